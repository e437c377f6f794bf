pub mod demo;
pub mod generate;
pub mod hunt;
pub mod pipe_stages;
pub mod rules_cmd;
pub mod rules_test;
pub mod run;
pub mod stix;
