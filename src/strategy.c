typedef int adl_placeholder_strategy;
