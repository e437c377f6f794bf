//! One Tetragon event (the shared model) → [`Normalized`]: OCSF class by event type and
//! hooked function, the Sigma taxonomy fields, and the Sigma logsource.

use serde_json::Value;
use vigil_event::{LogSource, Timestamp};

use super::model::{ArgValue, Body, Envelope, LegacyKind, Process, Text};
use crate::doc::{Doc, DocValue, Obj};
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
    /// Event-type specific members for `unmapped` (function_name, policy_name …), in
    /// order; absent ones are skipped.
    unmapped: [(&'static str, Option<&'e str>); 5],
    /// The uprobe's offset (also for `unmapped`, after the texts).
    offset: Option<u64>,
}

/// Sigma logsource for a hook or event without a better category.
fn linux(category: Option<&str>) -> LogSource {
    match category {
        Some(c) => LogSource::new(Some("linux"), Some(c), None),
        None => LogSource::new(Some("linux"), None, Some("tetragon")),
    }
}

/// `binary arguments`, or the binary alone (Sysmon-style command line), as parts to
/// join: no intermediate string.
fn command_line<'p>(p: &'p Process<'_>) -> Option<Joined<'p>> {
    let binary = p.binary.as_deref()?;
    Some(match p.arguments.as_deref() {
        Some(args) if !args.is_empty() => Joined([binary, " ", args]),
        _ => Joined([binary, "", ""]),
    })
}

/// A string stored as the concatenation of its parts.
#[derive(Clone, Copy)]
struct Joined<'p>([&'p str; 3]);

impl DocValue for Joined<'_> {
    fn put(self, doc: &mut Doc, obj: Obj, key: crate::doc::KeyRef<'_>) {
        doc.put_joined(obj, key, &self.0);
    }
}

/// Writes the OCSF `process` object into `obj`; `parent` goes in as `parent_process`.
fn write_process(
    doc: &mut Doc,
    obj: Obj,
    p: &Process<'_>,
    parent: Option<&Process<'_>>,
    ancestors: Option<&[Process<'_>]>,
) {
    let created = p.start_time.as_deref().and_then(vigil_event::parse_timestamp);
    // `Joined` is not a `&str`, so the command line is written after the common
    // attributes in the position `ocsf::Process` gives it.
    let base = ocsf::Process {
        pid: p.pid.map(|v| u64::from(v.0)),
        uid: p.exec_id.as_deref(),
        path: p.binary.as_deref(),
        cmd_line: None,
        cwd: None,
        user_name: None,
        user_uid: None,
        created_time: None,
    };
    base.write(doc, obj);
    doc.put(obj, "cmd_line", command_line(p));
    let rest = ocsf::Process {
        cwd: p.cwd.as_deref(),
        user_name: p.user.as_ref().and_then(|u| u.name.as_deref()),
        user_uid: p.uid.map(|v| u64::from(v.0)),
        created_time: created,
        ..Default::default()
    };
    rest.write(doc, obj);
    doc.put(obj, "tid", p.tid.map(|t| t.0));
    if let Some(ns_pid) = p.pod.as_ref().and_then(|pod| pod.container.as_ref()).and_then(|c| c.pid) {
        doc.put(obj, "namespace_pid", ns_pid.0);
    }
    if let Some(parent) = parent {
        let pp = doc.object(obj, "parent_process");
        write_process(doc, pp, parent, None, None);
    }
    if let Some(ancestors) = ancestors.filter(|a| !a.is_empty()) {
        let lineage = ancestors.iter().filter_map(|a| a.binary.as_deref()).map(|b| Value::String(b.into()));
        doc.put(obj, "lineage", Value::Array(lineage.collect()));
    }
}

/// A reference to a process given in full elsewhere in the event (`actor.process`
/// when it repeats `process` or `process.parent_process`): pid, uid (exec id) and name
/// identify it without building and carrying the whole object twice.
fn write_process_ref(doc: &mut Doc, obj: Obj, p: &Process<'_>) {
    doc.put(obj, "pid", p.pid.map(|v| v.0));
    doc.put(obj, "uid", p.exec_id.as_deref());
    doc.put(obj, "name", p.binary.as_deref().map(ocsf::basename));
}

/// Image, CommandLine, ParentImage … for any event that has a process.
fn sigma_process(sigma: &mut Doc, p: &Process<'_>, parent: Option<&Process<'_>>) {
    if let Some(b) = &p.binary {
        sigma.insert("Image", &**b);
    }
    if let Some(cmd) = command_line(p) {
        sigma.insert("CommandLine", cmd);
    }
    if let Some(cwd) = &p.cwd {
        sigma.insert("CurrentDirectory", &**cwd);
    }
    if let Some(pid) = p.pid {
        sigma.insert("ProcessId", pid.0);
    }
    // Tetragon reports the numeric uid; the user name only with --username-metadata.
    if let Some(name) = p.user.as_ref().and_then(|u| u.name.as_deref()) {
        sigma.insert("User", name);
    } else if let Some(uid) = p.uid {
        let mut buf = ocsf::itoa_buf();
        sigma.insert("User", ocsf::fmt_u64(&mut buf, u64::from(uid.0)));
    }
    if let Some(parent) = parent {
        if let Some(b) = &parent.binary {
            sigma.insert("ParentImage", &**b);
        }
        if let Some(cmd) = command_line(parent) {
            sigma.insert("ParentCommandLine", cmd);
        }
        if let Some(pid) = parent.pid {
            sigma.insert("ParentProcessId", pid.0);
        }
    }
}

/// Kubernetes and container context from the process's pod, plus node and cluster.
fn k8s(event: &mut Doc, p: Option<&Process<'_>>, env: &Envelope<'_>) {
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
            event.set("container.runtime", rt);
        }
    }
    if let Some(labels) = pod.and_then(|pod| pod.pod_labels.as_ref()).filter(|l| !l.0.is_empty()) {
        let unmapped = event.object(Doc::ROOT, "unmapped");
        let k8s = event.object(unmapped, "k8s");
        let obj = event.object(k8s, "pod_labels");
        for (k, v) in &labels.0 {
            event.put_owned_key(obj, k, &**v);
        }
    }
}

/// Lower-case IANA protocol name and number from Tetragon's `IPPROTO_TCP` / `TCP`.
fn protocol(raw: &str) -> (std::borrow::Cow<'_, str>, Option<u8>) {
    const KNOWN: [(&str, u8); 5] = [("icmp", 1), ("tcp", 6), ("udp", 17), ("icmpv6", 58), ("sctp", 132)];
    let name = raw.strip_prefix("IPPROTO_").unwrap_or(raw);
    match KNOWN.iter().find(|(known, _)| known.eq_ignore_ascii_case(name)) {
        Some(&(known, num)) => (std::borrow::Cow::Borrowed(known), Some(num)),
        None => (std::borrow::Cow::Owned(name.to_ascii_lowercase()), None),
    }
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
fn network(event: &mut Doc, sigma: &mut Doc, flow: &Flow<'_>, op: NetOp, hint: &str) {
    if flow.src_ip.is_some() || flow.src_port.is_some() {
        ocsf::write_endpoint(event, "src_endpoint", flow.src_ip, flow.src_port.map(u64::from), None);
    }
    if flow.dst_ip.is_some() || flow.dst_port.is_some() {
        ocsf::write_endpoint(event, "dst_endpoint", flow.dst_ip, flow.dst_port.map(u64::from), None);
    }
    let proto = match flow.protocol {
        Some(p) => Some(protocol(p)),
        // The function says it when no socket argument does (tcp_sendmsg, udp_sendmsg).
        None if hint.starts_with("tcp") => Some(protocol("tcp")),
        None if hint.starts_with("udp") => Some(protocol("udp")),
        None => None,
    };
    let direction = match op {
        NetOp::Connect => Some((2u8, "Outbound", "true")),
        NetOp::Accept => Some((1u8, "Inbound", "false")),
        _ => None,
    };
    if proto.is_some() || direction.is_some() {
        let conn = event.object(Doc::ROOT, "connection_info");
        if let Some((name, num)) = &proto {
            event.put(conn, "protocol_name", &**name);
            event.put(conn, "protocol_num", *num);
            sigma.insert("Protocol", &**name);
        }
        if let Some((id, name, initiated)) = direction {
            event.put(conn, "direction_id", id);
            event.put(conn, "direction", name);
            sigma.insert("Initiated", initiated);
        }
    }
    if let Some(ip) = flow.dst_ip {
        sigma.insert("DestinationIp", ip);
    }
    if let Some(port) = flow.dst_port {
        sigma.insert("DestinationPort", port);
    }
    if let Some(ip) = flow.src_ip {
        sigma.insert("SourceIp", ip);
    }
    if let Some(port) = flow.src_port {
        sigma.insert("SourcePort", port);
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

/// The first two paths named by the arguments: file / path / binprm arguments, or —
/// for syscalls that take a file name (`openat`, `unlink`) and have none of those —
/// string arguments.
fn arg_paths<'e>(args: &'e [super::model::Arg<'_>]) -> [Option<&'e str>; 2] {
    let mut paths = [None, None];
    let mut n = 0;
    for a in args {
        if let Some(ArgValue::File(p) | ArgValue::Path(p) | ArgValue::LinuxBinprm(p)) = &a.value {
            if let Some(path) = p.path.as_deref() {
                paths[n] = Some(path);
                n += 1;
                if n == 2 {
                    break;
                }
            }
        }
    }
    if n == 0 {
        for a in args {
            if let Some(ArgValue::String(s)) = &a.value {
                paths[n] = Some(&**s);
                n += 1;
                if n == 2 {
                    break;
                }
            }
        }
    }
    paths
}

/// Writes an OCSF `file` object under `key`.
fn write_file(doc: &mut Doc, obj: Obj, key: &'static str, path: &str) {
    let file = doc.object(obj, key);
    doc.put(file, "name", ocsf::basename(path));
    doc.put(file, "path", path);
    // 0 Unknown: a path argument does not tell a regular file from a directory.
    doc.put(file, "type_id", 0u8);
    doc.put(file, "type", "Unknown");
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
    let action = |a: &'e Option<super::model::EnumName<'a>>| a.as_ref().map(|a| &*a.0);
    Some(match body {
        Body::Kprobe(k) => Hook {
            process: k.process.as_ref(),
            parent: k.parent.as_ref(),
            ancestors: k.ancestors.as_deref(),
            function: k.function_name.as_deref(),
            args: k.args.as_deref().unwrap_or(empty),
            ret: k.return_arg.as_ref(),
            message: k.message.as_deref(),
            tags: k.tags.as_deref(),
            unmapped: [
                ("function_name", k.function_name.as_deref()),
                ("policy_name", k.policy_name.as_deref()),
                ("action", action(&k.action)),
                ("return_action", action(&k.return_action)),
                ("", None),
            ],
            offset: None,
        },
        Body::Tracepoint(t) => Hook {
            process: t.process.as_ref(),
            parent: t.parent.as_ref(),
            ancestors: t.ancestors.as_deref(),
            function: t.event.as_deref(),
            args: t.args.as_deref().unwrap_or(empty),
            ret: None,
            message: t.message.as_deref(),
            tags: t.tags.as_deref(),
            unmapped: [
                ("subsys", t.subsys.as_deref()),
                ("event", t.event.as_deref()),
                ("policy_name", t.policy_name.as_deref()),
                ("action", action(&t.action)),
                ("", None),
            ],
            offset: None,
        },
        Body::Lsm(l) => Hook {
            process: l.process.as_ref(),
            parent: l.parent.as_ref(),
            ancestors: l.ancestors.as_deref(),
            function: l.function_name.as_deref(),
            args: l.args.as_deref().unwrap_or(empty),
            ret: None,
            message: l.message.as_deref(),
            tags: l.tags.as_deref(),
            unmapped: [
                ("function_name", l.function_name.as_deref()),
                ("policy_name", l.policy_name.as_deref()),
                ("action", action(&l.action)),
                ("ima_hash", l.ima_hash.as_deref()),
                ("", None),
            ],
            offset: None,
        },
        // The offset comes after path and symbol in `unmapped`; see `hook_event`.
        Body::Uprobe(u) => Hook {
            process: u.process.as_ref(),
            parent: u.parent.as_ref(),
            ancestors: u.ancestors.as_deref(),
            function: u.symbol.as_deref(),
            args: u.args.as_deref().unwrap_or(empty),
            ret: None,
            message: u.message.as_deref(),
            tags: u.tags.as_deref(),
            unmapped: [
                ("path", u.path.as_deref()),
                ("symbol", u.symbol.as_deref()),
                ("policy_name", u.policy_name.as_deref()),
                ("action", action(&u.action)),
                ("", None),
            ],
            offset: u.offset.map(|o| o.0),
        },
        Body::Usdt(u) => Hook {
            process: u.process.as_ref(),
            parent: u.parent.as_ref(),
            ancestors: u.ancestors.as_deref(),
            // USDT probes are user-space markers (provider:name), never a syscall.
            function: None,
            args: u.args.as_deref().unwrap_or(empty),
            ret: None,
            message: u.message.as_deref(),
            tags: u.tags.as_deref(),
            unmapped: [
                ("path", u.path.as_deref()),
                ("provider", u.provider.as_deref()),
                ("name", u.name.as_deref()),
                ("policy_name", u.policy_name.as_deref()),
                ("action", action(&u.action)),
            ],
            offset: None,
        },
        _ => return None,
    })
}

/// Writes `actor.process` as a reference to `p` (given in full elsewhere).
fn actor_ref(ev: &mut Doc, p: &Process<'_>) {
    let obj = ev.object_path("actor.process");
    write_process_ref(ev, obj, p);
}

/// Writes `key` (`process` or `actor.process`) as `p` in full with its parent.
fn process_tree(
    ev: &mut Doc,
    path: &'static str,
    p: &Process<'_>,
    parent: Option<&Process<'_>>,
    ancestors: Option<&[Process<'_>]>,
) {
    let obj = ev.object_path(path);
    write_process(ev, obj, p, parent, ancestors);
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
    let mut sigma = Doc::with_capacity(16, 256);
    let (mut event, logsource, process) = match body {
        Body::Exec(e) => {
            let p = e.process.as_ref().ok_or_else(|| DecodeError::missing("process_exec.process"))?;
            let parent = e.parent.as_ref();
            let mut ev = ocsf::base(Class::ProcessActivity, activity::PROCESS_LAUNCH, time, PRODUCT);
            // The parent launched the process: it is the actor.
            if let Some(pp) = parent {
                actor_ref(&mut ev, pp);
            }
            process_tree(&mut ev, "process", p, parent, e.ancestors.as_deref());
            sigma_process(&mut sigma, p, parent);
            (ev, linux(Some("process_creation")), Some(p))
        }
        Body::Exit(e) => {
            let p = e.process.as_ref().ok_or_else(|| DecodeError::missing("process_exit.process"))?;
            let mut ev = ocsf::base(Class::ProcessActivity, activity::PROCESS_TERMINATE, time, PRODUCT);
            // The process ended itself (exit) or by a signal; either way it is the actor.
            actor_ref(&mut ev, p);
            process_tree(&mut ev, "process", p, e.parent.as_ref(), e.ancestors.as_deref());
            if let Some(status) = e.status {
                ev.insert("exit_code", status.0);
            }
            if let Some(signal) = &e.signal {
                ev.set("unmapped.signal", &**signal);
            }
            sigma_process(&mut sigma, p, e.parent.as_ref());
            (ev, linux(None), Some(p))
        }
        Body::Loader(l) => {
            let mut ev = ocsf::base(Class::ModuleActivity, activity::MODULE_LOAD, time, PRODUCT);
            if let Some(p) = &l.process {
                process_tree(&mut ev, "actor.process", p, l.parent.as_ref(), l.ancestors.as_deref());
                sigma_process(&mut sigma, p, l.parent.as_ref());
            }
            if let Some(path) = &l.path {
                let module = ev.object(Doc::ROOT, "module");
                write_file(&mut ev, module, "file", path);
                ev.put(module, "load_type_id", 0u8);
                sigma.insert("ImageLoaded", &**path);
            }
            if let Some(id) = &l.buildid {
                ev.set("unmapped.buildid", &**id);
            }
            (ev, linux(None), l.process.as_ref())
        }
        Body::Throttle(t) => {
            let mut ev = ocsf::base(Class::Base, activity::OTHER, time, PRODUCT);
            let kind = t.throttle_type.as_ref().map(|k| &*k.0).unwrap_or("THROTTLE_UNKNOWN");
            let cgroup = t.cgroup.as_deref().unwrap_or("");
            ev.insert("message", format!("Tetragon {kind} for cgroup {cgroup}"));
            ev.set("unmapped.throttle_type", kind);
            if let Some(c) = &t.cgroup {
                ev.set("unmapped.cgroup", &**c);
            }
            (ev, linux(None), None)
        }
        Body::RateLimit(r) => {
            let mut ev = ocsf::base(Class::Base, activity::OTHER, time, PRODUCT);
            let dropped = r.number_of_dropped_process_events.map(|n| n.0).unwrap_or(0);
            ev.insert("message", format!("Tetragon rate limit: {dropped} process events dropped"));
            ev.set("unmapped.number_of_dropped_process_events", dropped);
            (ev, linux(None), None)
        }
        Body::Test(t) => {
            let mut ev = ocsf::base(Class::Base, activity::OTHER, time, PRODUCT);
            ev.insert("message", "Tetragon test event");
            for (k, v) in [("arg0", t.arg0), ("arg1", t.arg1), ("arg2", t.arg2), ("arg3", t.arg3)] {
                if let Some(v) = v {
                    let unmapped = ev.object(Doc::ROOT, "unmapped");
                    ev.put(unmapped, k, v.0);
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
                process_tree(&mut ev, "actor.process", p, l.parent.as_ref(), None);
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
                    ev.set("traffic.bytes_out", b.0);
                }
                if let Some(b) = stats.bytes_received {
                    ev.set("traffic.bytes_in", b.0);
                }
            }
            (ev, linux(Some("network_connection")), l.process.as_ref())
        }
        Body::Unknown(_, u) => {
            let mut ev = ocsf::base(Class::ProcessActivity, activity::OTHER, time, PRODUCT);
            if let Some(p) = &u.process {
                actor_ref(&mut ev, p);
                process_tree(&mut ev, "process", p, u.parent.as_ref(), None);
                sigma_process(&mut sigma, p, u.parent.as_ref());
            }
            (ev, linux(None), u.process.as_ref())
        }
        Body::Kprobe(_) | Body::Tracepoint(_) | Body::Lsm(_) | Body::Uprobe(_) | Body::Usdt(_) => {
            let hook = hook_of(body).ok_or_else(|| DecodeError::missing("hook event"))?;
            hook_event(hook, time, &mut sigma)
        }
    };
    event.set("metadata.event_code", body.key());
    k8s(&mut event, process, env);
    Ok(Normalized { source: SourceKind::Tetragon, time, logsource, ocsf: event, sigma, raw })
}

type Built<'e, 'a> = (Doc, LogSource, Option<&'e Process<'a>>);

fn hook_event<'e, 'a>(hook: Hook<'e, 'a>, time: Option<Timestamp>, sigma: &mut Doc) -> Built<'e, 'a> {
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
    if let Some(p) = hook.process {
        sigma_process(sigma, p, hook.parent);
    }
    match hooked {
        Hooked::Process(_) => {
            // The process acts on itself: `process` in full, the actor refers to it.
            if let Some(p) = hook.process {
                process_tree(&mut ev, "process", p, hook.parent, hook.ancestors);
            }
        }
        Hooked::File(op) => {
            let [first, second] = arg_paths(hook.args);
            if let Some(first) = first {
                let path = absolute(first);
                write_file(&mut ev, Doc::ROOT, "file", &path);
                sigma.insert("TargetFilename", path);
            }
            if op == FileOp::Rename {
                if let Some(second) = second {
                    write_file(&mut ev, Doc::ROOT, "file_result", &absolute(second));
                }
            }
        }
        Hooked::Net(op) => {
            let flow = flow_from_args(hook.args, hook.ret, op);
            network(&mut ev, sigma, &flow, op, hook.function.map(base_name).unwrap_or(""));
        }
    }
    if let Some(p) = hook.process {
        match hooked {
            Hooked::Process(_) => actor_ref(&mut ev, p),
            _ => process_tree(&mut ev, "actor.process", p, hook.parent, hook.ancestors),
        }
    }
    if let Some(msg) = hook.message {
        ev.insert("message", msg);
    }
    if let Some(tags) = hook.tags.filter(|t| !t.is_empty()) {
        let labels = tags.iter().map(|t| Value::String(t.to_string())).collect();
        ev.set("metadata.labels", Value::Array(labels));
    }
    // The arguments themselves stay in the raw record (`raw_data`): copying them into
    // `unmapped` would double the event's size for kprobes with byte buffers.
    let present = hook.unmapped.iter().any(|(_, v)| v.is_some()) || hook.offset.is_some();
    if present {
        let unmapped = ev.object(Doc::ROOT, "unmapped");
        let mut offset = hook.offset;
        for (k, v) in hook.unmapped {
            ev.put(unmapped, k, v);
            // A uprobe's offset follows its symbol, as Tetragon orders them.
            if k == "symbol" {
                ev.put(unmapped, "offset", offset.take());
            }
        }
        ev.put(unmapped, "offset", offset);
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
        assert_eq!(protocol("IPPROTO_TCP"), ("tcp".into(), Some(6)));
        assert_eq!(protocol("TCP"), ("tcp".into(), Some(6)));
        assert_eq!(protocol("IPPROTO_UDP"), ("udp".into(), Some(17)));
        assert_eq!(protocol("IPPROTO_MPTCP").0, "mptcp");
        assert_eq!(protocol("IPPROTO_MPTCP").1, None);
    }

    #[test]
    fn relative_kernel_paths_get_their_slash_back() {
        assert_eq!(absolute("etc/passwd"), "/etc/passwd");
        assert_eq!(absolute("/etc/passwd"), "/etc/passwd");
    }
}
