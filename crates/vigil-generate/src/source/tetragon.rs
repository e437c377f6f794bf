//! Tetragon JSON export lines (`tetra getevents -o json`, the export file): one
//! `GetEventsResponse` per line, proto field names, empty fields omitted.

use crate::clock;
use crate::json::Obj;
use crate::world::{Proc, World};

fn pod_obj(world: &World, pod: usize, container_pid: Option<u32>) -> Obj {
    let pod = &world.pods[pod];
    let mut container = Obj::new()
        .str("id", &format!("containerd://{}", pod.container_id))
        .str("name", pod.workload.container)
        .obj("image", Obj::new().str("id", &pod.image_id()).str("name", pod.workload.image))
        .str("start_time", &clock::rfc3339_seconds(pod.started_ms));
    if let Some(pid) = container_pid {
        container = container.num("pid", pid as i64);
    }
    let labels = pod.labels.iter().fold(Obj::new(), |o, (k, v)| o.str(k, v));
    Obj::new()
        .str("namespace", pod.workload.namespace)
        .str("name", &pod.name)
        .obj("container", container)
        .obj("pod_labels", labels)
        .str("workload", pod.workload.name)
        .str("workload_kind", pod.workload.kind)
}

pub(crate) fn process_obj(world: &World, p: &Proc) -> Obj {
    let mut o = Obj::new()
        .str("exec_id", &p.exec_id)
        .num("pid", p.pid as i64)
        .num("uid", p.uid as i64)
        .str("cwd", &p.cwd)
        .str("binary", &p.binary)
        .opt_str("arguments", p.arguments.as_deref())
        .str("flags", p.flags)
        .str("start_time", &clock::rfc3339_nanos(p.start_ms, p.start_sub_ns))
        .num("auid", 4_294_967_295);
    if let Some(pod) = p.pod {
        o = o.obj("pod", pod_obj(world, pod, p.container_pid)).str("docker", &world.pods[pod].container_id[..31]);
    }
    o.opt_str("parent_exec_id", p.parent_exec_id.as_deref()).num("tid", p.pid as i64)
}

fn envelope(world: &World, member: &str, body: Obj, host: usize, ms: i64, sub_ns: u32) -> String {
    Obj::new()
        .obj(member, body)
        .str("node_name", &world.hosts[host].name)
        .str("time", &clock::rfc3339_nanos(ms, sub_ns))
        .finish()
}

/// `process_exec` of `p` (its own start time is the event time).
pub(crate) fn exec(world: &World, p: &Proc, parent: &Proc) -> String {
    let body = Obj::new().obj("process", process_obj(world, p)).obj("parent", process_obj(world, parent));
    envelope(world, "process_exec", body, p.host, p.start_ms, p.start_sub_ns.saturating_add(48_000))
}

/// `process_exit` of `p` at `ms` with exit status `status` (omitted when 0, as the export does).
pub(crate) fn exit(world: &World, p: &Proc, parent: &Proc, ms: i64, status: i64) -> String {
    let mut body = Obj::new().obj("process", process_obj(world, p)).obj("parent", process_obj(world, parent));
    if status != 0 {
        body = body.num("status", status);
    }
    body = body.str("time", &clock::rfc3339_nanos(ms, 0));
    envelope(world, "process_exit", body, p.host, ms, 1_000)
}

/// A `tcp_connect` kprobe (TracingPolicy `monitor-network-activity`) of `p`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn tcp_connect(
    world: &World,
    p: &Proc,
    parent: &Proc,
    saddr: &str,
    sport: u16,
    daddr: &str,
    dport: u16,
    ms: i64,
    cookie: u64,
) -> String {
    let sock = Obj::new()
        .str("family", "AF_INET")
        .str("type", "SOCK_STREAM")
        .str("protocol", "IPPROTO_TCP")
        .str("saddr", saddr)
        .str("daddr", daddr)
        .num("sport", sport as i64)
        .num("dport", dport as i64)
        .str("cookie", &cookie.to_string())
        .str("state", "TCP_SYN_SENT");
    let body = Obj::new()
        .obj("process", process_obj(world, p))
        .obj("parent", process_obj(world, parent))
        .str("function_name", "tcp_connect")
        .objs("args", vec![Obj::new().obj("sock_arg", sock)])
        .str("action", "KPROBE_ACTION_POST")
        .str("policy_name", "monitor-network-activity")
        .str("return_action", "KPROBE_ACTION_POST");
    envelope(world, "process_kprobe", body, p.host, ms, 7_000)
}

/// A `security_file_permission` kprobe with MAY_READ (policy `enumerate-service-account`).
pub(crate) fn file_read(world: &World, p: &Proc, parent: &Proc, path: &str, ms: i64) -> String {
    let body = Obj::new()
        .obj("process", process_obj(world, p))
        .obj("parent", process_obj(world, parent))
        .str("function_name", "security_file_permission")
        .objs("args", vec![Obj::new().obj("file_arg", Obj::new().str("path", path)), Obj::new().num("int_arg", 4)])
        .obj("return", Obj::new().num("int_arg", 0))
        .str("action", "KPROBE_ACTION_POST")
        .str("policy_name", "enumerate-service-account")
        .str("return_action", "KPROBE_ACTION_POST");
    envelope(world, "process_kprobe", body, p.host, ms, 3_000)
}
