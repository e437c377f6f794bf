pub mod hunt;
pub mod rules_cmd;
