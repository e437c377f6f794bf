//! Generates the Tetragon protobuf types (`GetEventsResponse` and what it uses) from the
//! `.proto` files under `proto/tetragon/`. `protox` compiles them in pure Rust, so no
//! system `protoc` is needed; the Google well-known types (`Timestamp`, wrappers) come
//! with protox and map to `prost-types` / `Option<T>`.

fn main() {
    let protos = ["proto/tetragon/events.proto"];
    println!("cargo:rerun-if-changed=proto/tetragon");
    let descriptors = match protox::compile(protos, ["proto"]) {
        Ok(d) => d,
        Err(e) => panic!("compiling the Tetragon .proto files failed: {e:?}"),
    };
    let mut config = prost_build::Config::new();
    // Ordered maps (pod labels, node labels): events convert to the same JSON every time.
    config.btree_map(["."]);
    // Only the event stream is decoded; the gRPC service and filter messages are
    // generated too (same files) but unused.
    if let Err(e) = config.compile_fds(descriptors) {
        panic!("generating Rust for the Tetragon .proto files failed: {e}");
    }
}
