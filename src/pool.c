typedef int adl_placeholder_pool;
