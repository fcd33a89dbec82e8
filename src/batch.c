typedef int adl_placeholder_batch;
