typedef int adl_placeholder_request;
