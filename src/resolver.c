typedef int adl_placeholder_resolver;
