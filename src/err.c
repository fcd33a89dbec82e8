typedef int adl_placeholder_err;
