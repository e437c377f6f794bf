pub mod hunt;
pub mod rules_cmd;
pub mod rules_test;
