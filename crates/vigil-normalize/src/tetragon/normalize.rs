//! One Tetragon event (the shared model) → [`Normalized`]: OCSF class by event type and
//! hooked function, the Sigma taxonomy fields, and the Sigma logsource.

use serde_json::{Map, Value};
use vigil_event::{LogSource, Timestamp};

use super::model::{ArgValue, Body, Envelope, LegacyKind, Process, Text};
use crate::ocsf::{self, activity, Class};
use crate::{DeadLetterReason, DecodeError, Normalized, RawRecord, SourceKind};

const PRODUCT: &str = "Tetragon";

/// What a hooked function does, decided from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hooked {
    /// Process Activity with this activity id (Set User ID or Other).
    Process(u8),
    File(FileOp),
    Net(NetOp),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileOp {
    Create,
    Read,
    Update,
    Delete,
    Rename,
    SetAttributes,
    Open,
    /// `security_file_permission` / `inode_permission`: read or write by the mask
    /// argument (MAY_WRITE 2, MAY_READ 4, MAY_APPEND 8 — include/linux/fs.h).
    Permission,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NetOp {
    Connect,
    Accept,
    Traffic,
    Close,
    Listen,
}

/// The name with the syscall-wrapper or LSM prefix removed, so `__x64_sys_write`,
/// `sys_enter_write` (tracepoint) and `write` compare equal, and `security_file_open`
/// (kprobe) equals `file_open` (LSM hook).
fn base_name(function: &str) -> &str {
    const PREFIXES: [&str; 12] = [
        "__x64_sys_",
        "__arm64_sys_",
        "__ia32_compat_sys_",
        "__ia32_sys_",
        "__se_sys_",
        "__do_sys_",
        "__sys_",
        "ksys_",
        "sys_enter_",
        "sys_exit_",
        "sys_",
        "security_",
    ];
    for prefix in PREFIXES {
        if let Some(rest) = function.strip_prefix(prefix) {
            if !rest.is_empty() {
                return rest;
            }
        }
    }
    function
}

/// Classifies a kprobe function, LSM hook, tracepoint event or uprobe symbol. Names
/// are the Linux syscalls, LSM hooks (include/linux/lsm_hook_defs.h) and kernel
/// functions Tetragon's example policies hook.
pub(crate) fn classify(function: &str) -> Hooked {
    use FileOp::*;
    use NetOp::*;
    let name = base_name(function);
    match name {
        "open" | "openat" | "openat2" | "file_open" | "fd_install" | "do_sys_open" | "do_sys_openat2"
        | "do_filp_open" | "vfs_open" | "filp_open" | "file_receive" => Hooked::File(Open),
        "creat" | "mkdir" | "mkdirat" | "mknod" | "mknodat" | "symlink" | "symlinkat" | "link" | "linkat"
        | "path_mkdir" | "path_mknod" | "path_symlink" | "path_link" | "inode_create" | "inode_mkdir"
        | "inode_mknod" | "inode_symlink" | "inode_link" | "vfs_create" | "vfs_mkdir" | "vfs_mknod" | "vfs_symlink"
        | "vfs_link" | "do_mkdirat" | "do_mknodat" | "do_symlinkat" | "do_linkat" => Hooked::File(Create),
        "read" | "pread64" | "readv" | "preadv" | "preadv2" | "vfs_read" | "vfs_readv" | "kernel_read_file"
        | "kernel_read" => Hooked::File(Read),
        "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2" | "vfs_write" | "vfs_writev" | "kernel_write"
        | "truncate" | "ftruncate" | "path_truncate" | "file_truncate" | "do_truncate" | "vfs_truncate"
        | "fallocate" | "vfs_fallocate" => Hooked::File(Update),
        "unlink" | "unlinkat" | "rmdir" | "path_unlink" | "path_rmdir" | "inode_unlink" | "inode_rmdir"
        | "vfs_unlink" | "vfs_rmdir" | "do_unlinkat" | "do_rmdir" => Hooked::File(Delete),
        "rename" | "renameat" | "renameat2" | "path_rename" | "inode_rename" | "vfs_rename" | "do_renameat2" => {
            Hooked::File(Rename)
        }
        "chmod" | "fchmod" | "fchmodat" | "fchmodat2" | "chown" | "fchown" | "lchown" | "fchownat" | "path_chmod"
        | "path_chown" | "inode_setattr" | "notify_change" | "chmod_common" | "chown_common" | "setxattr"
        | "lsetxattr" | "fsetxattr" | "inode_setxattr" | "vfs_setxattr" | "removexattr" | "lremovexattr"
        | "fremovexattr" | "inode_removexattr" | "utimensat" | "utimes" | "futimesat" => Hooked::File(SetAttributes),
        "file_permission" | "inode_permission" => Hooked::File(Permission),
        "connect"
        | "tcp_connect"
        | "tcp_v4_connect"
        | "tcp_v6_connect"
        | "ip4_datagram_connect"
        | "ip6_datagram_connect"
        | "socket_connect"
        | "inet_stream_connect"
        | "__inet_stream_connect" => Hooked::Net(Connect),
        "accept" | "accept4" | "inet_csk_accept" | "socket_accept" | "inet_accept" => Hooked::Net(Accept),
        "listen" | "bind" | "socket_listen" | "socket_bind" | "inet_listen" | "inet_bind" | "inet_csk_listen_start" => {
            Hooked::Net(Listen)
        }
        "shutdown" | "inet_release" | "inet_shutdown" | "socket_shutdown" | "tcp_close" | "udp_lib_close"
        | "tcp_fin" => Hooked::Net(Close),
        "sendto" | "sendmsg" | "sendmmsg" | "recvfrom" | "recvmsg" | "recvmmsg" | "socket_sendmsg"
        | "socket_recvmsg" | "sock_sendmsg" | "sock_recvmsg" | "ip_output" | "ip_queue_xmit" | "ip_local_out"
        | "__ip_local_out" | "dev_queue_xmit" | "__dev_queue_xmit" => Hooked::Net(Traffic),
        n if n.starts_with("tcp_") || n.starts_with("udp") => Hooked::Net(Traffic),
        "setuid"
        | "setreuid"
        | "setresuid"
        | "setfsuid"
        | "commit_creds"
        | "task_fix_setuid"
        | "cap_task_fix_setuid" => Hooked::Process(activity::PROCESS_SET_USER_ID),
        _ => Hooked::Process(activity::OTHER),
    }
}

/// The fields of a hook event (kprobe, tracepoint, LSM, uprobe, USDT) that
/// normalization reads, gathered from whichever event type carried them.
struct Hook<'e, 'a> {
    process: Option<&'e Process<'a>>,
    parent: Option<&'e Process<'a>>,
    ancestors: Option<&'e [Process<'a>]>,
    /// Function, hook, tracepoint event or symbol: what classification looks at.
    function: Option<&'e str>,
    args: &'e [super::model::Arg<'a>],
    ret: Option<&'e super::model::Arg<'a>>,
    message: Option<&'e str>,
    tags: Option<&'e [Text<'a>]>,
    /// Event-type specific members for `unmapped` (function_name, policy_name …).
    unmapped: Vec<(&'static str, Value)>,
}

fn text_value(t: &Option<Text<'_>>) -> Option<Value> {
    t.as_ref().map(|t| Value::String(t.to_string()))
}

fn push_text(unmapped: &mut Vec<(&'static str, Value)>, key: &'static str, t: &Option<Text<'_>>) {
    if let Some(v) = text_value(t) {
        unmapped.push((key, v));
    }
}

/// Sigma logsource for a hook or event without a better category.
fn linux(category: Option<&str>) -> LogSource {
    match category {
        Some(c) => LogSource::new(Some("linux"), Some(c), None),
        None => LogSource::new(Some("linux"), None, Some("tetragon")),
    }
}

/// `binary arguments`, or the binary alone (Sysmon-style command line).
fn command_line(p: &Process<'_>) -> Option<String> {
    let binary = p.binary.as_deref()?;
    Some(match p.arguments.as_deref() {
        Some(args) if !args.is_empty() => {
            let mut s = String::with_capacity(binary.len() + 1 + args.len());
            s.push_str(binary);
            s.push(' ');
            s.push_str(args);
            s
        }
        _ => binary.to_owned(),
    })
}

/// The OCSF `process` object; `parent` goes in as `parent_process`.
fn process_value(p: &Process<'_>, parent: Option<Value>, ancestors: Option<&[Process<'_>]>) -> Value {
    let cmd = command_line(p);
    let created = p.start_time.as_deref().and_then(vigil_event::parse_timestamp);
    let base = ocsf::Process {
        pid: p.pid.map(|v| u64::from(v.0)),
        uid: p.exec_id.as_deref(),
        path: p.binary.as_deref(),
        cmd_line: cmd.as_deref(),
        cwd: p.cwd.as_deref(),
        user_name: p.user.as_ref().and_then(|u| u.name.as_deref()),
        user_uid: p.uid.map(|v| u64::from(v.0)),
        created_time: created,
    };
    let mut value = base.to_value();
    if let Value::Object(m) = &mut value {
        if let Some(tid) = p.tid {
            m.insert("tid".into(), tid.0.into());
        }
        if let Some(ns_pid) = p.pod.as_ref().and_then(|pod| pod.container.as_ref()).and_then(|c| c.pid) {
            m.insert("namespace_pid".into(), ns_pid.0.into());
        }
        if let Some(parent) = parent {
            m.insert("parent_process".into(), parent);
        }
        if let Some(ancestors) = ancestors.filter(|a| !a.is_empty()) {
            let lineage = ancestors.iter().filter_map(|a| a.binary.as_deref()).map(|b| Value::String(b.into()));
            m.insert("lineage".into(), Value::Array(lineage.collect()));
        }
    }
    value
}

/// A reference to a process given in full elsewhere in the event (`actor.process`
/// when it repeats `process` or `process.parent_process`): pid, uid (exec id) and name
/// identify it without building and carrying the whole object twice.
fn process_ref(p: &Process<'_>) -> Value {
    let mut m = Map::new();
    if let Some(pid) = p.pid {
        m.insert("pid".into(), pid.0.into());
    }
    if let Some(uid) = &p.exec_id {
        m.insert("uid".into(), Value::String(uid.to_string()));
    }
    if let Some(b) = &p.binary {
        m.insert("name".into(), ocsf::basename(b).into());
    }
    Value::Object(m)
}

/// `process` with its parent, as OCSF nests them.
fn process_tree(p: &Process<'_>, parent: Option<&Process<'_>>, ancestors: Option<&[Process<'_>]>) -> Value {
    let parent = parent.map(|pp| process_value(pp, None, None));
    process_value(p, parent, ancestors)
}

/// Image, CommandLine, ParentImage … for any event that has a process.
fn sigma_process(sigma: &mut Map<String, Value>, p: &Process<'_>, parent: Option<&Process<'_>>) {
    if let Some(b) = &p.binary {
        sigma.insert("Image".into(), Value::String(b.to_string()));
    }
    if let Some(cmd) = command_line(p) {
        sigma.insert("CommandLine".into(), Value::String(cmd));
    }
    if let Some(cwd) = &p.cwd {
        sigma.insert("CurrentDirectory".into(), Value::String(cwd.to_string()));
    }
    if let Some(pid) = p.pid {
        sigma.insert("ProcessId".into(), pid.0.into());
    }
    // Tetragon reports the numeric uid; the user name only with --username-metadata.
    if let Some(name) = p.user.as_ref().and_then(|u| u.name.as_deref()) {
        sigma.insert("User".into(), Value::String(name.to_owned()));
    } else if let Some(uid) = p.uid {
        sigma.insert("User".into(), Value::String(uid.0.to_string()));
    }
    if let Some(parent) = parent {
        if let Some(b) = &parent.binary {
            sigma.insert("ParentImage".into(), Value::String(b.to_string()));
        }
        if let Some(cmd) = command_line(parent) {
            sigma.insert("ParentCommandLine".into(), Value::String(cmd));
        }
        if let Some(pid) = parent.pid {
            sigma.insert("ParentProcessId".into(), pid.0.into());
        }
    }
}

/// Kubernetes and container context from the process's pod, plus node and cluster.
fn k8s(event: &mut Map<String, Value>, p: Option<&Process<'_>>, env: &Envelope<'_>) {
    let pod = p.and_then(|p| p.pod.as_ref());
    let container = pod.and_then(|pod| pod.container.as_ref());
    // Pod container ids are `<runtime>://<id>`; OCSF wants the id and the runtime apart.
    let (runtime, container_id) = match container.and_then(|c| c.id.as_deref()) {
        Some(id) => match id.split_once("://") {
            Some((rt, id)) => (Some(rt), Some(id)),
            None => (None, Some(id)),
        },
        None => (None, p.and_then(|p| p.docker.as_deref())),
    };
    let ctx = ocsf::K8sContext {
        cluster: env.cluster_name.as_deref(),
        node: env.node_name.as_deref(),
        namespace: pod.and_then(|pod| pod.namespace.as_deref()),
        pod: pod.and_then(|pod| pod.name.as_deref()),
        pod_uid: pod.and_then(|pod| pod.uid.as_deref()),
        container: container.and_then(|c| c.name.as_deref()),
        container_id,
        image: container.and_then(|c| c.image.as_ref()).and_then(|i| i.name.as_deref()),
        workload: pod.and_then(|pod| pod.workload.as_deref()),
        workload_kind: pod.and_then(|pod| pod.workload_kind.as_deref()),
    };
    ocsf::k8s_context(event, &ctx);
    if let Some(rt) = runtime {
        if event.contains_key("container") {
            ocsf::set(event, "container.runtime", rt);
        }
    }
    if let Some(labels) = pod.and_then(|pod| pod.pod_labels.as_ref()).filter(|l| !l.0.is_empty()) {
        let map: Map<String, Value> =
            labels.0.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))).collect();
        ocsf::set(event, "unmapped.k8s.pod_labels", Value::Object(map));
    }
}

/// Lower-case IANA protocol name and number from Tetragon's `IPPROTO_TCP` / `TCP`.
fn protocol(raw: &str) -> (String, Option<u8>) {
    let name = raw.strip_prefix("IPPROTO_").unwrap_or(raw).to_ascii_lowercase();
    let num = match name.as_str() {
        "icmp" => Some(1),
        "tcp" => Some(6),
        "udp" => Some(17),
        "icmpv6" => Some(58),
        "sctp" => Some(132),
        _ => None,
    };
    (name, num)
}

/// Network endpoints of an event: source (local for sockets) and destination.
#[derive(Default)]
struct Flow<'e> {
    src_ip: Option<&'e str>,
    src_port: Option<u32>,
    dst_ip: Option<&'e str>,
    dst_port: Option<u32>,
    protocol: Option<&'e str>,
}

fn flow_from_args<'e>(
    args: &'e [super::model::Arg<'_>],
    ret: Option<&'e super::model::Arg<'_>>,
    op: NetOp,
) -> Flow<'e> {
    let mut flow = Flow::default();
    let mut sockaddr = None;
    for arg in args.iter().chain(ret) {
        match &arg.value {
            Some(ArgValue::Sock(s)) => {
                flow.src_ip = s.saddr.as_deref();
                flow.src_port = s.sport.map(|p| p.0);
                flow.dst_ip = s.daddr.as_deref();
                flow.dst_port = s.dport.map(|p| p.0);
                flow.protocol = s.protocol.as_deref();
                return flow;
            }
            Some(ArgValue::Skb(s)) => {
                flow.src_ip = s.saddr.as_deref();
                flow.src_port = s.sport.map(|p| p.0);
                flow.dst_ip = s.daddr.as_deref();
                flow.dst_port = s.dport.map(|p| p.0);
                flow.protocol = s.protocol.as_deref();
                return flow;
            }
            Some(ArgValue::Sockaddr(s)) if sockaddr.is_none() => sockaddr = Some(s),
            _ => {}
        }
    }
    if let Some(s) = sockaddr {
        // connect / sendto name the peer; bind / listen the local address.
        if op == NetOp::Listen {
            flow.src_ip = s.addr.as_deref();
            flow.src_port = s.port.map(|p| p.0);
        } else {
            flow.dst_ip = s.addr.as_deref();
            flow.dst_port = s.port.map(|p| p.0);
        }
    }
    flow
}

fn net_activity(op: NetOp) -> u8 {
    match op {
        NetOp::Connect | NetOp::Accept => activity::NETWORK_OPEN,
        NetOp::Traffic => activity::NETWORK_TRAFFIC,
        NetOp::Close => activity::NETWORK_CLOSE,
        NetOp::Listen => activity::NETWORK_LISTEN,
    }
}

/// Writes the network view: OCSF endpoints and connection info, Sigma fields.
fn network(event: &mut Map<String, Value>, sigma: &mut Map<String, Value>, flow: &Flow<'_>, op: NetOp, hint: &str) {
    if flow.src_ip.is_some() || flow.src_port.is_some() {
        event.insert("src_endpoint".into(), ocsf::endpoint(flow.src_ip, flow.src_port.map(u64::from), None));
    }
    if flow.dst_ip.is_some() || flow.dst_port.is_some() {
        event.insert("dst_endpoint".into(), ocsf::endpoint(flow.dst_ip, flow.dst_port.map(u64::from), None));
    }
    let proto = match flow.protocol {
        Some(p) => Some(protocol(p)),
        // The function says it when no socket argument does (tcp_sendmsg, udp_sendmsg).
        None if hint.starts_with("tcp") => Some(protocol("tcp")),
        None if hint.starts_with("udp") => Some(protocol("udp")),
        None => None,
    };
    let direction = match op {
        NetOp::Connect => Some((2, "Outbound", "true")),
        NetOp::Accept => Some((1, "Inbound", "false")),
        _ => None,
    };
    let mut conn = Map::new();
    if let Some((name, num)) = &proto {
        conn.insert("protocol_name".into(), name.clone().into());
        if let Some(n) = num {
            conn.insert("protocol_num".into(), (*n).into());
        }
        sigma.insert("Protocol".into(), name.clone().into());
    }
    if let Some((id, name, initiated)) = direction {
        conn.insert("direction_id".into(), id.into());
        conn.insert("direction".into(), name.into());
        sigma.insert("Initiated".into(), initiated.into());
    }
    if !conn.is_empty() {
        event.insert("connection_info".into(), Value::Object(conn));
    }
    if let Some(ip) = flow.dst_ip {
        sigma.insert("DestinationIp".into(), ip.into());
    }
    if let Some(port) = flow.dst_port {
        sigma.insert("DestinationPort".into(), port.into());
    }
    if let Some(ip) = flow.src_ip {
        sigma.insert("SourceIp".into(), ip.into());
    }
    if let Some(port) = flow.src_port {
        sigma.insert("SourcePort".into(), port.into());
    }
}

/// A file path as a kernel path argument gives it. Tetragon releases of 2021/22 wrote
/// file paths without the leading `/` (`etc/passwd`); they are absolute paths (d_path
/// from the root), so the slash is put back.
fn absolute(path: &str) -> std::borrow::Cow<'_, str> {
    if path.starts_with('/') || path.is_empty() {
        std::borrow::Cow::Borrowed(path)
    } else {
        std::borrow::Cow::Owned(format!("/{path}"))
    }
}

/// Paths named by the arguments, in order: file / path / binprm arguments, then — for
/// syscalls that take a file name (`openat`, `unlink`) — string arguments.
fn arg_paths<'e>(args: &'e [super::model::Arg<'_>]) -> Vec<&'e str> {
    let mut paths: Vec<&str> = args
        .iter()
        .filter_map(|a| match &a.value {
            Some(ArgValue::File(p) | ArgValue::Path(p) | ArgValue::LinuxBinprm(p)) => p.path.as_deref(),
            _ => None,
        })
        .collect();
    if paths.is_empty() {
        paths = args
            .iter()
            .filter_map(|a| match &a.value {
                Some(ArgValue::String(s)) => Some(&**s),
                _ => None,
            })
            .collect();
    }
    paths
}

fn file_object(path: &str) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), ocsf::basename(path).into());
    m.insert("path".into(), path.into());
    // 0 Unknown: a path argument does not tell a regular file from a directory.
    m.insert("type_id".into(), 0.into());
    m.insert("type".into(), "Unknown".into());
    Value::Object(m)
}

/// File System Activity id and Sigma category for a file operation.
fn file_activity(op: FileOp, args: &[super::model::Arg<'_>]) -> (u8, &'static str) {
    match op {
        FileOp::Create => (activity::FILE_CREATE, "file_event"),
        FileOp::Read => (activity::FILE_READ, "file_access"),
        FileOp::Update => (activity::FILE_UPDATE, "file_event"),
        FileOp::Delete => (activity::FILE_DELETE, "file_delete"),
        FileOp::Rename => (activity::FILE_RENAME, "file_event"),
        FileOp::SetAttributes => (activity::FILE_SET_ATTRIBUTES, "file_event"),
        FileOp::Open => (activity::FILE_OPEN, "file_access"),
        FileOp::Permission => {
            let mask = args.iter().find_map(|a| match &a.value {
                Some(ArgValue::Int(v)) => Some(v.0),
                Some(ArgValue::Uint(v)) => i32::try_from(v.0).ok(),
                _ => None,
            });
            match mask {
                Some(m) if m & (0x2 | 0x8) != 0 => (activity::FILE_UPDATE, "file_event"),
                Some(m) if m & 0x4 != 0 => (activity::FILE_READ, "file_access"),
                _ => (activity::OTHER, "file_access"),
            }
        }
    }
}

fn event_time(env: &Envelope<'_>, body: &Body<'_>) -> Result<Option<Timestamp>, DecodeError> {
    if let Some(text) = &env.time {
        return match vigil_event::parse_timestamp(text) {
            Some(t) => Ok(Some(t)),
            None => Err(DecodeError::new(
                DeadLetterReason::InvalidField,
                format!("`time` is {:?}, expected an RFC 3339 timestamp", truncate(text, 64)),
            )),
        };
    }
    // Without the top-level time (some exports omit it): the exit's own time, or the
    // exec's process start time, which is the exec time.
    let fallback = match body {
        Body::Exit(e) => e.time.as_deref(),
        Body::Exec(e) => e.process.as_ref().and_then(|p| p.start_time.as_deref()),
        _ => None,
    };
    Ok(fallback.and_then(vigil_event::parse_timestamp))
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn hook_of<'e, 'a>(body: &'e Body<'a>) -> Option<Hook<'e, 'a>> {
    let empty: &[super::model::Arg<'a>] = &[];
    let mut unmapped = Vec::new();
    Some(match body {
        Body::Kprobe(k) => {
            push_text(&mut unmapped, "function_name", &k.function_name);
            push_text(&mut unmapped, "policy_name", &k.policy_name);
            push_text(&mut unmapped, "action", &k.action.as_ref().map(|a| a.0.clone()));
            push_text(&mut unmapped, "return_action", &k.return_action.as_ref().map(|a| a.0.clone()));
            Hook {
                process: k.process.as_ref(),
                parent: k.parent.as_ref(),
                ancestors: k.ancestors.as_deref(),
                function: k.function_name.as_deref(),
                args: k.args.as_deref().unwrap_or(empty),
                ret: k.return_arg.as_ref(),
                message: k.message.as_deref(),
                tags: k.tags.as_deref(),
                unmapped,
            }
        }
        Body::Tracepoint(t) => {
            push_text(&mut unmapped, "subsys", &t.subsys);
            push_text(&mut unmapped, "event", &t.event);
            push_text(&mut unmapped, "policy_name", &t.policy_name);
            push_text(&mut unmapped, "action", &t.action.as_ref().map(|a| a.0.clone()));
            Hook {
                process: t.process.as_ref(),
                parent: t.parent.as_ref(),
                ancestors: t.ancestors.as_deref(),
                function: t.event.as_deref(),
                args: t.args.as_deref().unwrap_or(empty),
                ret: None,
                message: t.message.as_deref(),
                tags: t.tags.as_deref(),
                unmapped,
            }
        }
        Body::Lsm(l) => {
            push_text(&mut unmapped, "function_name", &l.function_name);
            push_text(&mut unmapped, "policy_name", &l.policy_name);
            push_text(&mut unmapped, "action", &l.action.as_ref().map(|a| a.0.clone()));
            push_text(&mut unmapped, "ima_hash", &l.ima_hash);
            Hook {
                process: l.process.as_ref(),
                parent: l.parent.as_ref(),
                ancestors: l.ancestors.as_deref(),
                function: l.function_name.as_deref(),
                args: l.args.as_deref().unwrap_or(empty),
                ret: None,
                message: l.message.as_deref(),
                tags: l.tags.as_deref(),
                unmapped,
            }
        }
        Body::Uprobe(u) => {
            push_text(&mut unmapped, "path", &u.path);
            push_text(&mut unmapped, "symbol", &u.symbol);
            if let Some(off) = u.offset {
                unmapped.push(("offset", off.0.into()));
            }
            push_text(&mut unmapped, "policy_name", &u.policy_name);
            push_text(&mut unmapped, "action", &u.action.as_ref().map(|a| a.0.clone()));
            Hook {
                process: u.process.as_ref(),
                parent: u.parent.as_ref(),
                ancestors: u.ancestors.as_deref(),
                function: u.symbol.as_deref(),
                args: u.args.as_deref().unwrap_or(empty),
                ret: None,
                message: u.message.as_deref(),
                tags: u.tags.as_deref(),
                unmapped,
            }
        }
        Body::Usdt(u) => {
            push_text(&mut unmapped, "path", &u.path);
            push_text(&mut unmapped, "provider", &u.provider);
            push_text(&mut unmapped, "name", &u.name);
            push_text(&mut unmapped, "policy_name", &u.policy_name);
            push_text(&mut unmapped, "action", &u.action.as_ref().map(|a| a.0.clone()));
            Hook {
                process: u.process.as_ref(),
                parent: u.parent.as_ref(),
                ancestors: u.ancestors.as_deref(),
                // USDT probes are user-space markers (provider:name), never a syscall.
                function: None,
                args: u.args.as_deref().unwrap_or(empty),
                ret: None,
                message: u.message.as_deref(),
                tags: u.tags.as_deref(),
                unmapped,
            }
        }
        _ => return None,
    })
}

/// Builds the normalized event of one envelope.
pub(crate) fn normalize(env: &Envelope<'_>, raw: RawRecord) -> Result<Normalized, DecodeError> {
    let Some(body) = &env.body else {
        return Err(DecodeError::new(
            DeadLetterReason::MissingField,
            "no event member (process_exec, process_exit, process_kprobe, …) in the Tetragon record",
        ));
    };
    let time = event_time(env, body)?;
    let mut sigma = Map::new();
    let (mut event, logsource, process) = match body {
        Body::Exec(e) => {
            let p = e.process.as_ref().ok_or_else(|| DecodeError::missing("process_exec.process"))?;
            let parent = e.parent.as_ref();
            let mut ev = ocsf::base(Class::ProcessActivity, activity::PROCESS_LAUNCH, time, PRODUCT);
            // The parent launched the process: it is the actor.
            if let Some(pp) = parent {
                ocsf::set(&mut ev, "actor.process", process_ref(pp));
            }
            ev.insert("process".into(), process_tree(p, parent, e.ancestors.as_deref()));
            sigma_process(&mut sigma, p, parent);
            (ev, linux(Some("process_creation")), Some(p))
        }
        Body::Exit(e) => {
            let p = e.process.as_ref().ok_or_else(|| DecodeError::missing("process_exit.process"))?;
            let mut ev = ocsf::base(Class::ProcessActivity, activity::PROCESS_TERMINATE, time, PRODUCT);
            // The process ended itself (exit) or by a signal; either way it is the actor.
            ocsf::set(&mut ev, "actor.process", process_ref(p));
            ev.insert("process".into(), process_tree(p, e.parent.as_ref(), e.ancestors.as_deref()));
            if let Some(status) = e.status {
                ev.insert("exit_code".into(), status.0.into());
            }
            if let Some(signal) = &e.signal {
                ocsf::set(&mut ev, "unmapped.signal", signal.to_string());
            }
            sigma_process(&mut sigma, p, e.parent.as_ref());
            (ev, linux(None), Some(p))
        }
        Body::Loader(l) => {
            let mut ev = ocsf::base(Class::ModuleActivity, activity::MODULE_LOAD, time, PRODUCT);
            if let Some(p) = &l.process {
                ocsf::set(&mut ev, "actor.process", process_tree(p, l.parent.as_ref(), l.ancestors.as_deref()));
                sigma_process(&mut sigma, p, l.parent.as_ref());
            }
            if let Some(path) = &l.path {
                let mut module = Map::new();
                module.insert("file".into(), file_object(path));
                module.insert("load_type_id".into(), 0.into());
                ev.insert("module".into(), Value::Object(module));
                sigma.insert("ImageLoaded".into(), Value::String(path.to_string()));
            }
            if let Some(id) = &l.buildid {
                ocsf::set(&mut ev, "unmapped.buildid", id.to_string());
            }
            (ev, linux(None), l.process.as_ref())
        }
        Body::Throttle(t) => {
            let mut ev = ocsf::base(Class::Base, activity::OTHER, time, PRODUCT);
            let kind = t.throttle_type.as_ref().map(|k| &*k.0).unwrap_or("THROTTLE_UNKNOWN");
            let cgroup = t.cgroup.as_deref().unwrap_or("");
            ev.insert("message".into(), format!("Tetragon {kind} for cgroup {cgroup}").into());
            ocsf::set(&mut ev, "unmapped.throttle_type", kind);
            if let Some(c) = &t.cgroup {
                ocsf::set(&mut ev, "unmapped.cgroup", c.to_string());
            }
            (ev, linux(None), None)
        }
        Body::RateLimit(r) => {
            let mut ev = ocsf::base(Class::Base, activity::OTHER, time, PRODUCT);
            let dropped = r.number_of_dropped_process_events.map(|n| n.0).unwrap_or(0);
            ev.insert("message".into(), format!("Tetragon rate limit: {dropped} process events dropped").into());
            ocsf::set(&mut ev, "unmapped.number_of_dropped_process_events", dropped);
            (ev, linux(None), None)
        }
        Body::Test(t) => {
            let mut ev = ocsf::base(Class::Base, activity::OTHER, time, PRODUCT);
            ev.insert("message".into(), "Tetragon test event".into());
            for (k, v) in [("arg0", t.arg0), ("arg1", t.arg1), ("arg2", t.arg2), ("arg3", t.arg3)] {
                if let Some(v) = v {
                    ocsf::set(&mut ev, &format!("unmapped.{k}"), v.0);
                }
            }
            (ev, linux(None), None)
        }
        Body::Legacy(kind, l) => {
            let op = match kind {
                LegacyKind::Connect => NetOp::Connect,
                LegacyKind::Accept => NetOp::Accept,
                LegacyKind::Close => NetOp::Close,
                LegacyKind::Listen => NetOp::Listen,
            };
            let mut ev = ocsf::base(Class::NetworkActivity, net_activity(op), time, PRODUCT);
            if let Some(p) = &l.process {
                ocsf::set(&mut ev, "actor.process", process_tree(p, l.parent.as_ref(), None));
                sigma_process(&mut sigma, p, l.parent.as_ref());
            }
            let flow = if op == NetOp::Listen {
                Flow {
                    src_ip: l.ip.as_deref(),
                    src_port: l.port.map(|p| p.0),
                    protocol: l.protocol.as_deref(),
                    ..Default::default()
                }
            } else {
                Flow {
                    src_ip: l.source_ip.as_deref(),
                    src_port: l.source_port.map(|p| p.0),
                    dst_ip: l.destination_ip.as_deref(),
                    dst_port: l.destination_port.map(|p| p.0),
                    protocol: l.protocol.as_deref(),
                }
            };
            network(&mut ev, &mut sigma, &flow, op, "");
            if let Some(stats) = &l.stats {
                if let Some(b) = stats.bytes_sent {
                    ocsf::set(&mut ev, "traffic.bytes_out", b.0);
                }
                if let Some(b) = stats.bytes_received {
                    ocsf::set(&mut ev, "traffic.bytes_in", b.0);
                }
            }
            (ev, linux(Some("network_connection")), l.process.as_ref())
        }
        Body::Unknown(_, u) => {
            let mut ev = ocsf::base(Class::ProcessActivity, activity::OTHER, time, PRODUCT);
            if let Some(p) = &u.process {
                ocsf::set(&mut ev, "actor.process", process_ref(p));
                ev.insert("process".into(), process_tree(p, u.parent.as_ref(), None));
                sigma_process(&mut sigma, p, u.parent.as_ref());
            }
            (ev, linux(None), u.process.as_ref())
        }
        Body::Kprobe(_) | Body::Tracepoint(_) | Body::Lsm(_) | Body::Uprobe(_) | Body::Usdt(_) => {
            let hook = hook_of(body).ok_or_else(|| DecodeError::missing("hook event"))?;
            hook_event(hook, time, &mut sigma)
        }
    };
    ocsf::set(&mut event, "metadata.event_code", body.key());
    k8s(&mut event, process, env);
    Ok(Normalized { source: SourceKind::Tetragon, time, logsource, ocsf: event, sigma, raw })
}

type Built<'e, 'a> = (Map<String, Value>, LogSource, Option<&'e Process<'a>>);

fn hook_event<'e, 'a>(hook: Hook<'e, 'a>, time: Option<Timestamp>, sigma: &mut Map<String, Value>) -> Built<'e, 'a> {
    let hooked = hook.function.map(classify).unwrap_or(Hooked::Process(activity::OTHER));
    let (class, activity_id, category) = match hooked {
        Hooked::Process(a) => (Class::ProcessActivity, a, None),
        Hooked::File(op) => {
            let (a, cat) = file_activity(op, hook.args);
            (Class::FileSystemActivity, a, Some(cat))
        }
        Hooked::Net(op) => (Class::NetworkActivity, net_activity(op), Some("network_connection")),
    };
    let mut ev = ocsf::base(class, activity_id, time, PRODUCT);
    let mut process_value = hook.process.map(|p| process_tree(p, hook.parent, hook.ancestors));
    if let Some(p) = hook.process {
        sigma_process(sigma, p, hook.parent);
    }
    match hooked {
        Hooked::Process(_) => {
            // The process acts on itself: `process` in full, the actor refers to it.
            if let (Some(v), Some(p)) = (process_value.take(), hook.process) {
                ev.insert("process".into(), v);
                process_value = Some(process_ref(p));
            }
        }
        Hooked::File(op) => {
            let paths = arg_paths(hook.args);
            if let Some(first) = paths.first() {
                let path = absolute(first);
                ev.insert("file".into(), file_object(&path));
                sigma.insert("TargetFilename".into(), Value::String(path.into_owned()));
            }
            if op == FileOp::Rename {
                if let Some(second) = paths.get(1) {
                    ev.insert("file_result".into(), file_object(&absolute(second)));
                }
            }
        }
        Hooked::Net(op) => {
            let flow = flow_from_args(hook.args, hook.ret, op);
            network(&mut ev, sigma, &flow, op, hook.function.map(base_name).unwrap_or(""));
        }
    }
    if let Some(v) = process_value {
        ocsf::set(&mut ev, "actor.process", v);
    }
    if let Some(msg) = hook.message {
        ev.insert("message".into(), msg.into());
    }
    if let Some(tags) = hook.tags.filter(|t| !t.is_empty()) {
        let labels = tags.iter().map(|t| Value::String(t.to_string())).collect();
        ocsf::set(&mut ev, "metadata.labels", Value::Array(labels));
    }
    // The arguments themselves stay in the raw record (`raw_data`): copying them into
    // `unmapped` would double the event's size for kprobes with byte buffers.
    let unmapped = hook.unmapped;
    if !unmapped.is_empty() {
        let slot = ev.entry("unmapped").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = slot {
            for (k, v) in unmapped {
                m.insert(k.into(), v);
            }
        }
    }
    let logsource = linux(category);
    (ev, logsource, hook.process)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_classify_across_kprobe_tracepoint_and_lsm_names() {
        assert_eq!(classify("__x64_sys_write"), Hooked::File(FileOp::Update));
        assert_eq!(classify("sys_enter_write"), Hooked::File(FileOp::Update));
        assert_eq!(classify("security_file_open"), Hooked::File(FileOp::Open));
        assert_eq!(classify("file_open"), Hooked::File(FileOp::Open));
        assert_eq!(classify("fd_install"), Hooked::File(FileOp::Open));
        assert_eq!(classify("security_file_permission"), Hooked::File(FileOp::Permission));
        assert_eq!(classify("security_path_unlink"), Hooked::File(FileOp::Delete));
        assert_eq!(classify("security_path_rename"), Hooked::File(FileOp::Rename));
        assert_eq!(classify("security_path_chmod"), Hooked::File(FileOp::SetAttributes));
        assert_eq!(classify("security_path_mkdir"), Hooked::File(FileOp::Create));
        assert_eq!(classify("security_kernel_read_file"), Hooked::File(FileOp::Read));
        assert_eq!(classify("tcp_connect"), Hooked::Net(NetOp::Connect));
        assert_eq!(classify("tcp_sendmsg"), Hooked::Net(NetOp::Traffic));
        assert_eq!(classify("udp_sendmsg"), Hooked::Net(NetOp::Traffic));
        assert_eq!(classify("tcp_close"), Hooked::Net(NetOp::Close));
        assert_eq!(classify("inet_csk_listen_start"), Hooked::Net(NetOp::Listen));
        assert_eq!(classify("inet_csk_accept"), Hooked::Net(NetOp::Accept));
        assert_eq!(classify("__x64_sys_setuid"), Hooked::Process(activity::PROCESS_SET_USER_ID));
        assert_eq!(classify("commit_creds"), Hooked::Process(activity::PROCESS_SET_USER_ID));
        assert_eq!(classify("__x64_sys_setns"), Hooked::Process(activity::OTHER));
        assert_eq!(classify("sys_enter"), Hooked::Process(activity::OTHER));
        assert_eq!(classify("SSL_write"), Hooked::Process(activity::OTHER));
    }

    #[test]
    fn protocol_names_are_lower_case_iana() {
        assert_eq!(protocol("IPPROTO_TCP"), ("tcp".to_owned(), Some(6)));
        assert_eq!(protocol("TCP"), ("tcp".to_owned(), Some(6)));
        assert_eq!(protocol("IPPROTO_UDP"), ("udp".to_owned(), Some(17)));
        assert_eq!(protocol("IPPROTO_MPTCP").1, None);
    }

    #[test]
    fn relative_kernel_paths_get_their_slash_back() {
        assert_eq!(absolute("etc/passwd"), "/etc/passwd");
        assert_eq!(absolute("/etc/passwd"), "/etc/passwd");
    }
}
