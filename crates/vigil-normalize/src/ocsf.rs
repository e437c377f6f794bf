//! OCSF 1.3 building blocks shared by the decoders, so every source fills the same
//! attributes the same way. Schema: https://schema.ocsf.io/1.3.0/ — class and category
//! ids, activity ids, `type_uid = class_uid * 100 + activity_id`, `time` in epoch ms.
//!
//! Kubernetes context has no dedicated OCSF object in 1.3; Vigil fills what the schema
//! has (`device.hostname` = node, `container.{name,uid,image.name,orchestrator,pod_uuid}`)
//! and puts the rest under `unmapped.k8s` (`cluster`, `namespace`, `pod`, `workload`,
//! `workload_kind`, `node`) — see [`k8s_context`].

use serde_json::Value;

use crate::doc::{Doc, DocValue, Obj};
use vigil_event::Timestamp;

pub const VERSION: &str = "1.3.0";

/// The OCSF classes Vigil emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 0: events with no better class (generic JSON).
    Base,
    /// 1001, System Activity.
    FileSystemActivity,
    /// 1005, System Activity: a module (shared library) loaded by a process.
    ModuleActivity,
    /// 1007, System Activity.
    ProcessActivity,
    /// 2004, Findings: third-party alerts (Kubescape, Falco) and Vigil's own.
    DetectionFinding,
    /// 2003, Findings: posture failures (Kubescape scan controls).
    ComplianceFinding,
    /// 3001, Identity & Access Management: useradd / usermod / passwd.
    AccountChange,
    /// 3002, Identity & Access Management.
    Authentication,
    /// 4001, Network Activity.
    NetworkActivity,
    /// 6003, Application Activity: Kubernetes API calls.
    ApiActivity,
}

impl Class {
    pub fn uid(self) -> u32 {
        match self {
            Class::Base => 0,
            Class::FileSystemActivity => 1001,
            Class::ModuleActivity => 1005,
            Class::ProcessActivity => 1007,
            Class::DetectionFinding => 2004,
            Class::ComplianceFinding => 2003,
            Class::AccountChange => 3001,
            Class::Authentication => 3002,
            Class::NetworkActivity => 4001,
            Class::ApiActivity => 6003,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Class::Base => "Base Event",
            Class::FileSystemActivity => "File System Activity",
            Class::ModuleActivity => "Module Activity",
            Class::ProcessActivity => "Process Activity",
            Class::DetectionFinding => "Detection Finding",
            Class::ComplianceFinding => "Compliance Finding",
            Class::AccountChange => "Account Change",
            Class::Authentication => "Authentication",
            Class::NetworkActivity => "Network Activity",
            Class::ApiActivity => "API Activity",
        }
    }

    pub fn category(self) -> (u32, &'static str) {
        match self {
            Class::Base => (0, "Uncategorized"),
            Class::FileSystemActivity | Class::ModuleActivity | Class::ProcessActivity => (1, "System Activity"),
            Class::DetectionFinding | Class::ComplianceFinding => (2, "Findings"),
            Class::AccountChange | Class::Authentication => (3, "Identity & Access Management"),
            Class::NetworkActivity => (4, "Network Activity"),
            Class::ApiActivity => (6, "Application Activity"),
        }
    }
}

/// Activity ids used across classes (each class defines its own; these are the ones
/// Vigil's decoders use, named for the class they belong to).
pub mod activity {
    pub const UNKNOWN: u8 = 0;
    pub const OTHER: u8 = 99;
    // Process Activity
    pub const PROCESS_LAUNCH: u8 = 1;
    pub const PROCESS_TERMINATE: u8 = 2;
    pub const PROCESS_OPEN: u8 = 3;
    pub const PROCESS_INJECT: u8 = 4;
    pub const PROCESS_SET_USER_ID: u8 = 5;
    // File System Activity
    pub const FILE_CREATE: u8 = 1;
    pub const FILE_READ: u8 = 2;
    pub const FILE_UPDATE: u8 = 3;
    pub const FILE_DELETE: u8 = 4;
    pub const FILE_RENAME: u8 = 5;
    pub const FILE_SET_ATTRIBUTES: u8 = 6;
    pub const FILE_OPEN: u8 = 14;
    // Module Activity
    pub const MODULE_LOAD: u8 = 1;
    // Network Activity
    pub const NETWORK_OPEN: u8 = 1;
    pub const NETWORK_CLOSE: u8 = 2;
    pub const NETWORK_TRAFFIC: u8 = 6;
    pub const NETWORK_LISTEN: u8 = 7;
    // Authentication
    pub const AUTH_LOGON: u8 = 1;
    pub const AUTH_LOGOFF: u8 = 2;
    // Account Change
    pub const ACCOUNT_CREATE: u8 = 1;
    pub const ACCOUNT_ENABLE: u8 = 2;
    pub const ACCOUNT_PASSWORD_CHANGE: u8 = 3;
    pub const ACCOUNT_DELETE: u8 = 6;
    pub const ACCOUNT_ATTACH_POLICY: u8 = 7;
    // API Activity
    pub const API_CREATE: u8 = 1;
    pub const API_READ: u8 = 2;
    pub const API_UPDATE: u8 = 3;
    pub const API_DELETE: u8 = 4;
    // Detection / Compliance Finding
    pub const FINDING_CREATE: u8 = 1;
}

/// `status_id`: 1 Success, 2 Failure.
pub const STATUS_SUCCESS: u8 = 1;
pub const STATUS_FAILURE: u8 = 2;

/// `severity_id`: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical, 6 Fatal.
pub fn severity_name(id: u8) -> &'static str {
    match id {
        1 => "Informational",
        2 => "Low",
        3 => "Medium",
        4 => "High",
        5 => "Critical",
        6 => "Fatal",
        99 => "Other",
        _ => "Unknown",
    }
}

/// The attributes every OCSF event has: class, category, activity, type, time,
/// severity (Informational), and `metadata.product` / `metadata.version`.
/// `product` is the source product name ("Tetragon", "Cowrie", …).
pub fn base(class: Class, activity_id: u8, time: Option<Timestamp>, product: &str) -> Doc {
    let (category_uid, category_name) = class.category();
    // Sized for a Tetragon exec with its parent and pod (~70 members, ~1 KiB of text)
    // so that the buffers do not grow while the event is built.
    let mut m = Doc::with_capacity(80, 1536);
    m.insert("class_uid", class.uid());
    m.insert("class_name", class.name());
    m.insert("category_uid", category_uid);
    m.insert("category_name", category_name);
    m.insert("activity_id", activity_id);
    m.insert("type_uid", u64::from(class.uid()) * 100 + u64::from(activity_id));
    m.insert("time", time.map(|t| t.timestamp_millis()).unwrap_or(0));
    m.insert("severity_id", 1u8);
    m.insert("severity", "Informational");
    let metadata = m.object(Doc::ROOT, "metadata");
    m.put(metadata, "version", VERSION);
    let prod = m.object(metadata, "product");
    m.put(prod, "name", product);
    m.put(prod, "vendor_name", vendor(product));
    m
}

fn vendor(product: &str) -> &'static str {
    match product {
        "Tetragon" => "Cilium",
        "Kubescape" => "Kubescape",
        "Falco" => "Falco",
        "Cowrie" => "Cowrie",
        "Kubernetes" => "Kubernetes",
        "Microsoft Windows" => "Microsoft",
        _ => "Unknown",
    }
}

/// Sets `severity_id` and `severity`.
pub fn set_severity(event: &mut Doc, id: u8) {
    event.insert("severity_id", id);
    event.insert("severity", severity_name(id));
}

/// Sets `status_id` / `status` (1 Success, 2 Failure).
pub fn set_status(event: &mut Doc, success: bool) {
    let (id, name) = if success { (STATUS_SUCCESS, "Success") } else { (STATUS_FAILURE, "Failure") };
    event.insert("status_id", id);
    event.insert("status", name);
}

/// Sets a value at a dotted path, creating objects on the way (`"actor.user.name"`).
/// Null values are not written: OCSF omits unknown attributes.
pub fn set(event: &mut Doc, path: &'static str, value: impl DocValue) {
    event.set(path, value);
}

/// An OCSF `process` object. `path` is the executable's full path; `name` its last
/// component.
#[derive(Debug, Default, Clone)]
pub struct Process<'a> {
    pub pid: Option<u64>,
    pub uid: Option<&'a str>,
    pub path: Option<&'a str>,
    pub cmd_line: Option<&'a str>,
    pub cwd: Option<&'a str>,
    pub user_name: Option<&'a str>,
    pub user_uid: Option<u64>,
    pub created_time: Option<Timestamp>,
}

impl Process<'_> {
    /// Writes the process's attributes into `obj` of `doc`.
    pub fn write(&self, doc: &mut Doc, obj: Obj) {
        doc.put(obj, "pid", self.pid);
        doc.put(obj, "uid", self.uid);
        if let Some(path) = self.path {
            doc.put(obj, "name", basename(path));
            let file = doc.object(obj, "file");
            doc.put(file, "path", path);
            doc.put(file, "name", basename(path));
            doc.put(file, "type_id", 1u8);
        }
        doc.put(obj, "cmd_line", self.cmd_line);
        doc.put(obj, "cwd", self.cwd);
        if self.user_name.is_some() || self.user_uid.is_some() {
            let user = doc.object(obj, "user");
            doc.put(user, "name", self.user_name);
            if let Some(u) = self.user_uid {
                // OCSF's user uid is a string.
                let mut buf = itoa_buf();
                doc.put(user, "uid", fmt_u64(&mut buf, u));
            }
        }
        doc.put(obj, "created_time", self.created_time.map(|t| t.timestamp_millis()));
    }

    /// The process as a JSON value (for decoders that build objects as values).
    pub fn to_value(&self) -> Value {
        let mut doc = Doc::new();
        self.write(&mut doc, Doc::ROOT);
        Value::Object(doc.to_map())
    }
}

/// A stack buffer for [`fmt_u64`].
pub(crate) fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

/// `n` in decimal, written into `buf` (no allocation).
pub(crate) fn fmt_u64(buf: &mut [u8; 20], mut n: u64) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).expect("ASCII digits")
}

/// The last path component (`/usr/bin/nc` → `nc`).
pub fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// An OCSF `network_endpoint` (`src_endpoint` / `dst_endpoint`) as a value, for decoders
/// that build objects as values.
pub fn endpoint(ip: Option<&str>, port: Option<u64>, hostname: Option<&str>) -> Value {
    let mut doc = Doc::with_capacity(4, 64);
    put_endpoint(&mut doc, Doc::ROOT, ip, port, hostname);
    Value::Object(doc.to_map())
}

/// Writes an OCSF `network_endpoint` under `key` of the event (nothing when all parts
/// are unknown).
pub fn write_endpoint(doc: &mut Doc, key: &'static str, ip: Option<&str>, port: Option<u64>, hostname: Option<&str>) {
    if ip.is_none() && port.is_none() && hostname.is_none() {
        return;
    }
    let obj = doc.object(Doc::ROOT, key);
    put_endpoint(doc, obj, ip, port, hostname);
}

/// The endpoint's attributes, in OCSF order, into `obj`.
fn put_endpoint(doc: &mut Doc, obj: Obj, ip: Option<&str>, port: Option<u64>, hostname: Option<&str>) {
    doc.put(obj, "ip", ip);
    doc.put(obj, "port", port);
    doc.put(obj, "hostname", hostname);
}

/// Kubernetes context of an event, as far as the source knows it.
#[derive(Debug, Default, Clone)]
pub struct K8sContext<'a> {
    pub cluster: Option<&'a str>,
    pub node: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub pod: Option<&'a str>,
    pub pod_uid: Option<&'a str>,
    pub container: Option<&'a str>,
    pub container_id: Option<&'a str>,
    pub image: Option<&'a str>,
    pub workload: Option<&'a str>,
    pub workload_kind: Option<&'a str>,
}

/// Writes `ctx` into `event`: `device.hostname` (node), `container`, and
/// `unmapped.k8s`. Writes nothing for an empty context.
pub fn k8s_context(event: &mut Doc, ctx: &K8sContext<'_>) {
    if let Some(node) = ctx.node {
        event.set("device.hostname", node);
        event.set("device.type_id", 6u8); // 6: Virtual
    }
    if ctx.container.is_some() || ctx.container_id.is_some() || ctx.image.is_some() {
        let container = event.object(Doc::ROOT, "container");
        event.put(container, "name", ctx.container);
        event.put(container, "uid", ctx.container_id);
        if let Some(image) = ctx.image {
            let img = event.object(container, "image");
            event.put(img, "name", image);
        }
        event.put(container, "pod_uuid", ctx.pod_uid);
        if ctx.pod.is_some() || ctx.namespace.is_some() {
            event.put(container, "orchestrator", "Kubernetes");
        }
    }
    let fields = [
        ("cluster", ctx.cluster),
        ("node", ctx.node),
        ("namespace", ctx.namespace),
        ("pod", ctx.pod),
        ("workload", ctx.workload),
        ("workload_kind", ctx.workload_kind),
    ];
    if fields.iter().all(|(_, v)| v.is_none()) {
        return;
    }
    let unmapped = event.object(Doc::ROOT, "unmapped");
    let k8s = event.object(unmapped, "k8s");
    for (name, value) in fields {
        event.put(k8s, name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base_fills_type_uid_and_category() {
        let e = base(Class::ProcessActivity, activity::PROCESS_LAUNCH, None, "Tetragon");
        assert_eq!(e["type_uid"], 100701);
        assert_eq!(e["category_uid"], 1);
        assert_eq!(e["metadata"]["product"]["vendor_name"], "Cilium");
    }

    #[test]
    fn set_creates_intermediate_objects_and_skips_null() {
        let mut e = Doc::new();
        set(&mut e, "actor.user.name", "root");
        set(&mut e, "actor.user.uid", Value::Null);
        assert_eq!(e.as_value(), &json!({"actor": {"user": {"name": "root"}}}));
    }
}
