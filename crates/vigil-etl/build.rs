//! Generates the Vizier API types, client and server from `proto/vizierapi.proto`.
//! `protox` compiles the file in pure Rust (no system `protoc`, as in vigil-normalize)
//! and `tonic-build` turns the descriptor set into prost messages plus the gRPC code.
//! The server half is generated too: the integration tests serve canned tables with it.

fn main() {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = match protox::compile(["proto/vizierapi.proto"], ["proto"]) {
        Ok(d) => d,
        Err(e) => panic!("compiling proto/vizierapi.proto failed: {e:?}"),
    };
    let generated = tonic_build::configure().build_client(true).build_server(true).compile_fds(descriptors);
    if let Err(e) = generated {
        panic!("generating Rust for proto/vizierapi.proto failed: {e}");
    }
}
