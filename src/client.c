typedef int adl_placeholder_client;
