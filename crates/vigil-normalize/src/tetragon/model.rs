//! The typed model of one Tetragon event, shared by the JSON export and the protobuf
//! stream: JSON deserializes into it borrowing from the record, protobuf messages
//! convert into it borrowing from the decoded message (`proto.rs`), and normalization
//! (`normalize.rs`) reads only this model, so both inputs give the same result.
//!
//! Field names are the proto field names, as Tetragon's JSON export writes them
//! (protojson with `UseProtoNames`). Every field is optional: the export omits empty
//! fields, and unknown fields are ignored. 64-bit integers come as decimal strings in
//! the export (protojson), 32-bit ones as numbers; both shapes are accepted for all.
//!
//! The model also serializes back to the export shape: that is the raw record kept for
//! events that arrived as protobuf.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A string borrowed from the record when it has no escapes, owned otherwise.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Text<'a>(pub Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text(Cow::Borrowed(s))
    }
}

impl From<String> for Text<'_> {
    fn from(s: String) -> Self {
        Text(Cow::Owned(s))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Integer types that accept a JSON number or a decimal string. `$as_string`: how
/// protojson writes the type (64-bit as strings, 32-bit as numbers).
macro_rules! lenient_int {
    ($name:ident, $t:ty, $as_string:expr, $what:literal) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub(crate) struct $name(pub $t);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str(concat!($what, " (a number or a decimal string)"))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$name, E> {
                        <$t>::try_from(v).map($name).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$name, E> {
                        <$t>::try_from(v).map($name).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        v.trim().parse::<$t>().map($name).map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
                    }
                }
                d.deserialize_any(V)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if $as_string {
                    s.collect_str(&self.0)
                } else {
                    self.0.serialize(s)
                }
            }
        }
    };
}

lenient_int!(U32, u32, false, "an unsigned 32-bit integer");
lenient_int!(I32, i32, false, "a signed 32-bit integer");
lenient_int!(U64, u64, true, "an unsigned 64-bit integer");
lenient_int!(I64, i64, true, "a signed 64-bit integer");

/// A string → string map (pod labels, node labels), in record order.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Labels<'a>(pub Vec<(Text<'a>, Text<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Labels<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Labels<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(4).min(64));
                while let Some((k, v)) = map.next_entry::<Text<'de>, Text<'de>>()? {
                    out.push((k, v));
                }
                Ok(Labels(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl Serialize for Labels<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// Declares a model struct whose fields are all optional, omitted when absent on
/// output, and borrow from the input.
///
/// The same field list also generates the struct's fast JSON parser (`fast.rs`), so the
/// two readers cannot disagree on names: a field's JSON name is its
/// `#[serde(rename = "…")]` when it has one, its own name otherwise. A field marked
/// `#[fast(check_only)]` is one normalization never reads: the fast parser checks it as
/// serde would (so the same records are refused) but leaves it `None`.
macro_rules! model {
    ($(#[$m:meta])* $name:ident {
        $(
            $(#[doc = $doc:literal])* $(#[serde(rename = $rename:literal)])? $(#[fast($how:ident)])?
            $field:ident : $ty:ty
        ),* $(,)?
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
        #[serde(bound(deserialize = "'de: 'a"))]
        pub(crate) struct $name<'a> {
            $(
                $(#[doc = $doc])*
                $(#[serde(rename = $rename)])?
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            #[serde(skip)]
            pub _life: std::marker::PhantomData<&'a ()>,
        }

        crate::tetragon::fast::fast_struct!($name { $($field $(= $rename)? $(: $how)?),* });
    };
}

model!(Image {
    #[fast(check_only)]
    id: Text<'a>,
    name: Text<'a>,
});
model!(SecurityContext { privileged: bool });
model!(Container {
    id: Text<'a>,
    name: Text<'a>,
    image: Image<'a>,
    #[fast(check_only)]
    start_time: Text<'a>,
    pid: U32,
    #[fast(check_only)]
    maybe_exec_probe: bool,
    #[fast(check_only)]
    security_context: SecurityContext<'a>,
});
model!(Pod {
    namespace: Text<'a>,
    name: Text<'a>,
    uid: Text<'a>,
    container: Container<'a>,
    pod_labels: Labels<'a>,
    workload: Text<'a>,
    workload_kind: Text<'a>,
    #[fast(check_only)]
    pod_annotations: Labels<'a>,
});
model!(Capabilities { permitted: Vec<Text<'a>>, effective: Vec<Text<'a>>, inheritable: Vec<Text<'a>> });
model!(Namespace { inum: U32, is_host: bool });
model!(Namespaces {
    uts: Namespace<'a>,
    ipc: Namespace<'a>,
    mnt: Namespace<'a>,
    pid: Namespace<'a>,
    pid_for_children: Namespace<'a>,
    net: Namespace<'a>,
    time: Namespace<'a>,
    time_for_children: Namespace<'a>,
    cgroup: Namespace<'a>,
    user: Namespace<'a>,
});
model!(UserNamespace { level: I32, uid: U32, gid: U32, ns: Namespace<'a> });
model!(ProcessCredentials {
    uid: U32,
    gid: U32,
    euid: U32,
    egid: U32,
    suid: U32,
    sgid: U32,
    fsuid: U32,
    fsgid: U32,
    securebits: Vec<Text<'a>>,
    caps: Capabilities<'a>,
    user_ns: UserNamespace<'a>,
});
model!(InodeProperties { number: U64, links: U32 });
model!(FileProperties { inode: InodeProperties<'a>, path: Text<'a> });
model!(BinaryProperties {
    setuid: U32,
    setgid: U32,
    privileges_changed: Vec<Text<'a>>,
    file: FileProperties<'a>,
});
model!(UserRecord { name: Text<'a> });
model!(EnvVar {
    #[serde(rename = "Key")]
    key: Text<'a>,
    #[serde(rename = "Value")]
    value: Text<'a>,
});
model!(Process {
    exec_id: Text<'a>,
    pid: U32,
    uid: U32,
    cwd: Text<'a>,
    binary: Text<'a>,
    arguments: Text<'a>,
    #[fast(check_only)]
    flags: Text<'a>,
    start_time: Text<'a>,
    #[fast(check_only)]
    auid: U32,
    pod: Pod<'a>,
    docker: Text<'a>,
    #[fast(check_only)]
    parent_exec_id: Text<'a>,
    #[fast(check_only)]
    refcnt: U32,
    // Boxed: rarely present and large; unboxed they made every `Process` (and each
    // event holding two or three) a kilobyte-sized value copied on every move.
    #[fast(check_only)]
    cap: Box<Capabilities<'a>>,
    #[fast(check_only)]
    ns: Box<Namespaces<'a>>,
    tid: U32,
    #[fast(check_only)]
    process_credentials: Box<ProcessCredentials<'a>>,
    #[fast(check_only)]
    binary_properties: Box<BinaryProperties<'a>>,
    user: UserRecord<'a>,
    #[fast(check_only)]
    in_init_tree: bool,
    #[fast(check_only)]
    environment_variables: Vec<EnvVar<'a>>,
});

model!(KprobeSock {
    family: Text<'a>,
    #[serde(rename = "type")]
    sock_type: Text<'a>,
    protocol: Text<'a>,
    mark: U32,
    priority: U32,
    saddr: Text<'a>,
    daddr: Text<'a>,
    sport: U32,
    dport: U32,
    cookie: U64,
    state: Text<'a>,
});
model!(KprobeSkb {
    hash: U32,
    len: U32,
    priority: U32,
    mark: U32,
    saddr: Text<'a>,
    daddr: Text<'a>,
    sport: U32,
    dport: U32,
    proto: U32,
    sec_path_len: U32,
    sec_path_olen: U32,
    protocol: Text<'a>,
    family: Text<'a>,
});
model!(KprobeSockaddr { family: Text<'a>, addr: Text<'a>, port: U32 });
model!(KprobeSockaddrUn { family: Text<'a>, path: Text<'a> });
model!(KprobeNetDev { name: Text<'a> });
model!(
    /// `KprobePath`, `KprobeFile` and `KprobeLinuxBinprm` (which lacks `mount`).
    KprobePath { mount: Text<'a>, path: Text<'a>, flags: Text<'a>, permission: Text<'a> });
model!(KprobeTruncatedBytes { bytes_arg: Text<'a>, orig_size: U64 });
model!(KprobeCapability { value: I32, name: Text<'a> });
model!(KprobeUserNamespace { level: I32, owner: U32, group: U32, ns: Namespace<'a> });
model!(
    /// `KprobeBpfAttr` and `KprobeBpfProg`.
    KprobeBpfAttr {
    #[serde(rename = "ProgType")]
    prog_type: Text<'a>,
    #[serde(rename = "InsnCnt")]
    insn_cnt: U32,
    #[serde(rename = "ProgName")]
    prog_name: Text<'a>,
});
model!(KprobePerfEvent {
    #[serde(rename = "KprobeFunc")]
    kprobe_func: Text<'a>,
    #[serde(rename = "Type")]
    perf_type: Text<'a>,
    #[serde(rename = "Config")]
    config: U64,
    #[serde(rename = "ProbeOffset")]
    probe_offset: U64,
});
model!(KprobeBpfMap {
    #[serde(rename = "MapType")]
    map_type: Text<'a>,
    #[serde(rename = "KeySize")]
    key_size: U32,
    #[serde(rename = "ValueSize")]
    value_size: U32,
    #[serde(rename = "MaxEntries")]
    max_entries: U32,
    #[serde(rename = "MapName")]
    map_name: Text<'a>,
});
model!(KernelModule { name: Text<'a>, signature_ok: bool, tainted: Vec<Text<'a>> });
model!(SyscallId { id: U32, abi: Text<'a> });
model!(KprobeError {
    #[serde(rename = "Message")]
    message: Text<'a>,
});
model!(StackTraceEntry { address: U64, offset: U64, symbol: Text<'a>, module: Text<'a> });

/// The value of one `KprobeArgument` (the proto `oneof arg`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ArgValue<'a> {
    String(Text<'a>),
    Int(I32),
    Skb(KprobeSkb<'a>),
    Size(U64),
    /// Base64, as the export writes `bytes`.
    Bytes(Text<'a>),
    Path(KprobePath<'a>),
    File(KprobePath<'a>),
    TruncatedBytes(KprobeTruncatedBytes<'a>),
    Sock(KprobeSock<'a>),
    Cred(Capabilities<'a>),
    Long(I64),
    BpfAttr(KprobeBpfAttr<'a>),
    PerfEvent(KprobePerfEvent<'a>),
    BpfMap(KprobeBpfMap<'a>),
    Uint(U32),
    UserNamespace(KprobeUserNamespace<'a>),
    Capability(KprobeCapability<'a>),
    ProcessCredentials(ProcessCredentials<'a>),
    UserNs(UserNamespace<'a>),
    Module(KernelModule<'a>),
    KernelCapT(Text<'a>),
    CapInheritable(Text<'a>),
    CapPermitted(Text<'a>),
    CapEffective(Text<'a>),
    LinuxBinprm(KprobePath<'a>),
    NetDev(KprobeNetDev<'a>),
    BpfCmd(Text<'a>),
    SyscallId(SyscallId<'a>),
    Sockaddr(KprobeSockaddr<'a>),
    BpfProg(KprobeBpfAttr<'a>),
    Error(KprobeError<'a>),
    SockaddrUn(KprobeSockaddrUn<'a>),
}

impl ArgValue<'_> {
    /// The member name in the export.
    pub(crate) fn key(&self) -> &'static str {
        match self {
            ArgValue::String(_) => "string_arg",
            ArgValue::Int(_) => "int_arg",
            ArgValue::Skb(_) => "skb_arg",
            ArgValue::Size(_) => "size_arg",
            ArgValue::Bytes(_) => "bytes_arg",
            ArgValue::Path(_) => "path_arg",
            ArgValue::File(_) => "file_arg",
            ArgValue::TruncatedBytes(_) => "truncated_bytes_arg",
            ArgValue::Sock(_) => "sock_arg",
            ArgValue::Cred(_) => "cred_arg",
            ArgValue::Long(_) => "long_arg",
            ArgValue::BpfAttr(_) => "bpf_attr_arg",
            ArgValue::PerfEvent(_) => "perf_event_arg",
            ArgValue::BpfMap(_) => "bpf_map_arg",
            ArgValue::Uint(_) => "uint_arg",
            ArgValue::UserNamespace(_) => "user_namespace_arg",
            ArgValue::Capability(_) => "capability_arg",
            ArgValue::ProcessCredentials(_) => "process_credentials_arg",
            ArgValue::UserNs(_) => "user_ns_arg",
            ArgValue::Module(_) => "module_arg",
            ArgValue::KernelCapT(_) => "kernel_cap_t_arg",
            ArgValue::CapInheritable(_) => "cap_inheritable_arg",
            ArgValue::CapPermitted(_) => "cap_permitted_arg",
            ArgValue::CapEffective(_) => "cap_effective_arg",
            ArgValue::LinuxBinprm(_) => "linux_binprm_arg",
            ArgValue::NetDev(_) => "net_dev_arg",
            ArgValue::BpfCmd(_) => "bpf_cmd_arg",
            ArgValue::SyscallId(_) => "syscall_id",
            ArgValue::Sockaddr(_) => "sockaddr_arg",
            ArgValue::BpfProg(_) => "bpf_prog_arg",
            ArgValue::Error(_) => "error_arg",
            ArgValue::SockaddrUn(_) => "sockaddrun_arg",
        }
    }
}

/// One `KprobeArgument`: its value (absent for a kind this decoder does not know,
/// which is skipped rather than rejected) and its policy label.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Arg<'a> {
    pub value: Option<ArgValue<'a>>,
    pub label: Option<Text<'a>>,
}

/// An argument value by its member name (`string_arg`, `sock_arg`, …): `$read!(Type)`
/// reads a value of a type, `$unknown` handles a kind this decoder does not know. The
/// serde reader (`ArgSeed`) and the fast reader (`fast::arg_value`) both expand it, so
/// their tables of kinds cannot drift apart.
macro_rules! arg_value_of_kind {
    ($kind:expr, $read:ident, $unknown:expr) => {
        Some(match $kind {
            "string_arg" => ArgValue::String($read!(Text)),
            "int_arg" => ArgValue::Int($read!(I32)),
            "skb_arg" => ArgValue::Skb($read!(KprobeSkb)),
            "size_arg" => ArgValue::Size($read!(U64)),
            "bytes_arg" => ArgValue::Bytes($read!(Text)),
            "path_arg" => ArgValue::Path($read!(KprobePath)),
            "file_arg" => ArgValue::File($read!(KprobePath)),
            "truncated_bytes_arg" => ArgValue::TruncatedBytes($read!(KprobeTruncatedBytes)),
            "sock_arg" => ArgValue::Sock($read!(KprobeSock)),
            "cred_arg" => ArgValue::Cred($read!(Capabilities)),
            "long_arg" => ArgValue::Long($read!(I64)),
            "bpf_attr_arg" => ArgValue::BpfAttr($read!(KprobeBpfAttr)),
            "perf_event_arg" => ArgValue::PerfEvent($read!(KprobePerfEvent)),
            "bpf_map_arg" => ArgValue::BpfMap($read!(KprobeBpfMap)),
            "uint_arg" => ArgValue::Uint($read!(U32)),
            "user_namespace_arg" => ArgValue::UserNamespace($read!(KprobeUserNamespace)),
            "capability_arg" => ArgValue::Capability($read!(KprobeCapability)),
            "process_credentials_arg" => ArgValue::ProcessCredentials($read!(ProcessCredentials)),
            "user_ns_arg" => ArgValue::UserNs($read!(UserNamespace)),
            "module_arg" => ArgValue::Module($read!(KernelModule)),
            "kernel_cap_t_arg" => ArgValue::KernelCapT($read!(Text)),
            "cap_inheritable_arg" => ArgValue::CapInheritable($read!(Text)),
            "cap_permitted_arg" => ArgValue::CapPermitted($read!(Text)),
            "cap_effective_arg" => ArgValue::CapEffective($read!(Text)),
            "linux_binprm_arg" => ArgValue::LinuxBinprm($read!(KprobePath)),
            "net_dev_arg" => ArgValue::NetDev($read!(KprobeNetDev)),
            "bpf_cmd_arg" => ArgValue::BpfCmd($read!(EnumName).0),
            "syscall_id" => ArgValue::SyscallId($read!(SyscallId)),
            "sockaddr_arg" => ArgValue::Sockaddr($read!(KprobeSockaddr)),
            "bpf_prog_arg" => ArgValue::BpfProg($read!(KprobeBpfAttr)),
            "error_arg" => ArgValue::Error($read!(KprobeError)),
            "sockaddrun_arg" => ArgValue::SockaddrUn($read!(KprobeSockaddrUn)),
            _ => $unknown,
        })
    };
}
pub(crate) use arg_value_of_kind;

/// Reads one argument value of the kind named by the member key.
struct ArgSeed<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for ArgSeed<'_> {
    type Value = Option<ArgValue<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        macro_rules! read {
            ($t:ty) => {
                <$t>::deserialize(d)?
            };
        }
        Ok(arg_value_of_kind!(self.0, read, {
            IgnoredAny::deserialize(d)?;
            return Ok(None);
        }))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Arg<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Arg<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Tetragon KprobeArgument object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut arg = Arg::default();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    if &*key == "label" {
                        arg.label = map.next_value()?;
                    } else if arg.value.is_none() {
                        arg.value = map.next_value_seed(ArgSeed(&key))?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(arg)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl Serialize for Arg<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(v) = &self.value {
            let key = v.key();
            match v {
                ArgValue::String(t)
                | ArgValue::Bytes(t)
                | ArgValue::KernelCapT(t)
                | ArgValue::CapInheritable(t)
                | ArgValue::CapPermitted(t)
                | ArgValue::CapEffective(t)
                | ArgValue::BpfCmd(t) => m.serialize_entry(key, t)?,
                ArgValue::Int(x) => m.serialize_entry(key, x)?,
                ArgValue::Skb(x) => m.serialize_entry(key, x)?,
                ArgValue::Size(x) => m.serialize_entry(key, x)?,
                ArgValue::Path(x) | ArgValue::File(x) | ArgValue::LinuxBinprm(x) => m.serialize_entry(key, x)?,
                ArgValue::TruncatedBytes(x) => m.serialize_entry(key, x)?,
                ArgValue::Sock(x) => m.serialize_entry(key, x)?,
                ArgValue::Cred(x) => m.serialize_entry(key, x)?,
                ArgValue::Long(x) => m.serialize_entry(key, x)?,
                ArgValue::BpfAttr(x) | ArgValue::BpfProg(x) => m.serialize_entry(key, x)?,
                ArgValue::PerfEvent(x) => m.serialize_entry(key, x)?,
                ArgValue::BpfMap(x) => m.serialize_entry(key, x)?,
                ArgValue::Uint(x) => m.serialize_entry(key, x)?,
                ArgValue::UserNamespace(x) => m.serialize_entry(key, x)?,
                ArgValue::Capability(x) => m.serialize_entry(key, x)?,
                ArgValue::ProcessCredentials(x) => m.serialize_entry(key, x)?,
                ArgValue::UserNs(x) => m.serialize_entry(key, x)?,
                ArgValue::Module(x) => m.serialize_entry(key, x)?,
                ArgValue::NetDev(x) => m.serialize_entry(key, x)?,
                ArgValue::SyscallId(x) => m.serialize_entry(key, x)?,
                ArgValue::Sockaddr(x) => m.serialize_entry(key, x)?,
                ArgValue::Error(x) => m.serialize_entry(key, x)?,
                ArgValue::SockaddrUn(x) => m.serialize_entry(key, x)?,
            }
        }
        if let Some(label) = &self.label {
            m.serialize_entry("label", label)?;
        }
        m.end()
    }
}

/// A proto enum value: its name as the export writes it, or a number (protojson
/// accepts both), kept as its decimal text when the name is unknown here.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct EnumName<'a>(pub Text<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for EnumName<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = EnumName<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an enum name or number")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(EnumName(Text(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(EnumName(Text(Cow::Owned(v.to_owned()))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(EnumName(Text(Cow::Owned(v.to_string()))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(EnumName(Text(Cow::Owned(v.to_string()))))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl Serialize for EnumName<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

model!(ProcessExec { process: Process<'a>, parent: Process<'a>, ancestors: Vec<Process<'a>> });
model!(ProcessExit {
    process: Process<'a>,
    parent: Process<'a>,
    signal: Text<'a>,
    status: U32,
    time: Text<'a>,
    ancestors: Vec<Process<'a>>,
});
model!(ProcessKprobe {
    process: Process<'a>,
    parent: Process<'a>,
    function_name: Text<'a>,
    args: Vec<Arg<'a>>,
    #[serde(rename = "return")]
    return_arg: Arg<'a>,
    action: EnumName<'a>,
    #[fast(check_only)]
    kernel_stack_trace: Vec<StackTraceEntry<'a>>,
    policy_name: Text<'a>,
    return_action: EnumName<'a>,
    message: Text<'a>,
    tags: Vec<Text<'a>>,
    #[fast(check_only)]
    user_stack_trace: Vec<StackTraceEntry<'a>>,
    ancestors: Vec<Process<'a>>,
    #[fast(check_only)]
    data: Vec<Arg<'a>>,
});
model!(ProcessTracepoint {
    process: Process<'a>,
    parent: Process<'a>,
    subsys: Text<'a>,
    event: Text<'a>,
    args: Vec<Arg<'a>>,
    policy_name: Text<'a>,
    action: EnumName<'a>,
    message: Text<'a>,
    tags: Vec<Text<'a>>,
    ancestors: Vec<Process<'a>>,
});
model!(ProcessUprobe {
    process: Process<'a>,
    parent: Process<'a>,
    path: Text<'a>,
    symbol: Text<'a>,
    policy_name: Text<'a>,
    message: Text<'a>,
    args: Vec<Arg<'a>>,
    tags: Vec<Text<'a>>,
    ancestors: Vec<Process<'a>>,
    offset: U64,
    #[fast(check_only)]
    ref_ctr_offset: U64,
    action: EnumName<'a>,
    #[fast(check_only)]
    data: Vec<Arg<'a>>,
});
model!(ProcessUsdt {
    process: Process<'a>,
    parent: Process<'a>,
    path: Text<'a>,
    provider: Text<'a>,
    name: Text<'a>,
    policy_name: Text<'a>,
    message: Text<'a>,
    args: Vec<Arg<'a>>,
    tags: Vec<Text<'a>>,
    ancestors: Vec<Process<'a>>,
    action: EnumName<'a>,
    #[fast(check_only)]
    flags: Text<'a>,
});
model!(ProcessLsm {
    process: Process<'a>,
    parent: Process<'a>,
    function_name: Text<'a>,
    policy_name: Text<'a>,
    message: Text<'a>,
    args: Vec<Arg<'a>>,
    action: EnumName<'a>,
    tags: Vec<Text<'a>>,
    ancestors: Vec<Process<'a>>,
    ima_hash: Text<'a>,
});
model!(ProcessLoader {
    process: Process<'a>,
    path: Text<'a>,
    /// Base64, as the export writes `bytes`.
    buildid: Text<'a>,
    parent: Process<'a>,
    ancestors: Vec<Process<'a>>,
});
model!(ProcessThrottle {
    #[serde(rename = "type")]
    throttle_type: EnumName<'a>,
    cgroup: Text<'a>,
});
model!(RateLimitInfo { number_of_dropped_process_events: U64 });
model!(TestEvent { arg0: U64, arg1: U64, arg2: U64, arg3: U64 });
model!(LegacyStats { bytes_sent: U64, bytes_received: U64 });
model!(
    /// `process_connect` / `process_accept` / `process_close` / `process_listen` of the
    /// 2022 exports (Isovalent "eBPF book" captures): network events that later Tetragon
    /// releases dropped for kprobes. `ip`/`port` are the listening address.
    LegacySocket {
    process: Process<'a>,
    parent: Process<'a>,
    source_ip: Text<'a>,
    source_port: U32,
    destination_ip: Text<'a>,
    destination_port: U32,
    protocol: Text<'a>,
    ip: Text<'a>,
    port: U32,
    stats: LegacyStats<'a>,
});
model!(
    /// An event member this decoder does not know (`process_<something>`): only the
    /// process and parent are read.
    UnknownProcessEvent { process: Process<'a>, parent: Process<'a> });

/// Which event an envelope carries: the `GetEventsResponse` oneof, plus legacy types.
// One Envelope lives on the stack per record: boxing the large variants would cost an
// allocation per event for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body<'a> {
    Exec(ProcessExec<'a>),
    Exit(ProcessExit<'a>),
    Kprobe(ProcessKprobe<'a>),
    Tracepoint(ProcessTracepoint<'a>),
    Loader(ProcessLoader<'a>),
    Uprobe(ProcessUprobe<'a>),
    Throttle(ProcessThrottle<'a>),
    Lsm(ProcessLsm<'a>),
    Usdt(ProcessUsdt<'a>),
    Test(TestEvent<'a>),
    RateLimit(RateLimitInfo<'a>),
    Legacy(LegacyKind, LegacySocket<'a>),
    Unknown(Text<'a>, UnknownProcessEvent<'a>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegacyKind {
    Connect,
    Accept,
    Close,
    Listen,
}

impl Body<'_> {
    /// The member name in the export (`process_exec` …), also `metadata.event_code`.
    pub(crate) fn key(&self) -> &str {
        match self {
            Body::Exec(_) => "process_exec",
            Body::Exit(_) => "process_exit",
            Body::Kprobe(_) => "process_kprobe",
            Body::Tracepoint(_) => "process_tracepoint",
            Body::Loader(_) => "process_loader",
            Body::Uprobe(_) => "process_uprobe",
            Body::Throttle(_) => "process_throttle",
            Body::Lsm(_) => "process_lsm",
            Body::Usdt(_) => "process_usdt",
            Body::Test(_) => "test",
            Body::RateLimit(_) => "rate_limit_info",
            Body::Legacy(LegacyKind::Connect, _) => "process_connect",
            Body::Legacy(LegacyKind::Accept, _) => "process_accept",
            Body::Legacy(LegacyKind::Close, _) => "process_close",
            Body::Legacy(LegacyKind::Listen, _) => "process_listen",
            Body::Unknown(key, _) => key,
        }
    }
}

/// Whether `key` names an event member (known, legacy, or an unknown `process_*`).
pub(crate) fn is_event_key(key: &str) -> bool {
    matches!(key, "test" | "rate_limit_info") || key.starts_with("process_")
}

/// Reads the event member named by the key.
pub(crate) struct BodySeed<'k>(pub &'k str);

impl<'de> DeserializeSeed<'de> for BodySeed<'_> {
    type Value = Body<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Ok(match self.0 {
            "process_exec" => Body::Exec(Deserialize::deserialize(d)?),
            "process_exit" => Body::Exit(Deserialize::deserialize(d)?),
            "process_kprobe" => Body::Kprobe(Deserialize::deserialize(d)?),
            "process_tracepoint" => Body::Tracepoint(Deserialize::deserialize(d)?),
            "process_loader" => Body::Loader(Deserialize::deserialize(d)?),
            "process_uprobe" => Body::Uprobe(Deserialize::deserialize(d)?),
            "process_throttle" => Body::Throttle(Deserialize::deserialize(d)?),
            "process_lsm" => Body::Lsm(Deserialize::deserialize(d)?),
            "process_usdt" => Body::Usdt(Deserialize::deserialize(d)?),
            "test" => Body::Test(Deserialize::deserialize(d)?),
            "rate_limit_info" => Body::RateLimit(Deserialize::deserialize(d)?),
            "process_connect" => Body::Legacy(LegacyKind::Connect, Deserialize::deserialize(d)?),
            "process_accept" => Body::Legacy(LegacyKind::Accept, Deserialize::deserialize(d)?),
            "process_close" => Body::Legacy(LegacyKind::Close, Deserialize::deserialize(d)?),
            "process_listen" => Body::Legacy(LegacyKind::Listen, Deserialize::deserialize(d)?),
            other => Body::Unknown(Text(Cow::Owned(other.to_owned())), Deserialize::deserialize(d)?),
        })
    }
}

/// One record: a `GetEventsResponse`, or its Vector-wrapped form
/// `{time, node_name, type, payload}` (payload = the event member's value).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Envelope<'a> {
    pub body: Option<Body<'a>>,
    pub node_name: Option<Text<'a>>,
    pub time: Option<Text<'a>>,
    pub cluster_name: Option<Text<'a>>,
    pub node_labels: Option<Labels<'a>>,
    pub aggregation_count: Option<U64>,
    /// Vector wrapper: `type` and `payload`, resolved into `body` after reading.
    pub wrapper_type: Option<Text<'a>>,
    /// The payload's JSON text (checked to be one JSON value).
    pub payload: Option<&'a str>,
}

model!(AggregationInfo { count: U64 });

impl<'de: 'a, 'a> Deserialize<'de> for Envelope<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Envelope<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Tetragon event object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut env = Envelope::default();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match &*key {
                        "node_name" => env.node_name = map.next_value()?,
                        "time" => env.time = map.next_value()?,
                        "cluster_name" => env.cluster_name = map.next_value()?,
                        "node_labels" => env.node_labels = map.next_value()?,
                        "aggregation_info" => {
                            env.aggregation_count = map.next_value::<Option<AggregationInfo>>()?.and_then(|a| a.count)
                        }
                        "type" => env.wrapper_type = map.next_value()?,
                        "payload" => env.payload = map.next_value::<Option<&'de RawValue>>()?.map(RawValue::get),
                        k if is_event_key(k) && env.body.is_none() => {
                            // protojson writes `null` for nothing; tolerate it.
                            env.body = map.next_value_seed(OptionalBody(k))?;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(env)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// An event member that may be `null`.
struct OptionalBody<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for OptionalBody<'_> {
    type Value = Option<Body<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        struct V<'k>(&'k str);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = Option<Body<'de>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "an object for `{}`", self.0)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                BodySeed(self.0).deserialize(d).map(Some)
            }
        }
        d.deserialize_option(V(self.0))
    }
}

impl Serialize for Envelope<'_> {
    /// The export shape; the Vector wrapper is not reproduced (an envelope serialized
    /// is always the plain `GetEventsResponse` form).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(body) = &self.body {
            let key = body.key();
            match body {
                Body::Exec(b) => m.serialize_entry(key, b)?,
                Body::Exit(b) => m.serialize_entry(key, b)?,
                Body::Kprobe(b) => m.serialize_entry(key, b)?,
                Body::Tracepoint(b) => m.serialize_entry(key, b)?,
                Body::Loader(b) => m.serialize_entry(key, b)?,
                Body::Uprobe(b) => m.serialize_entry(key, b)?,
                Body::Throttle(b) => m.serialize_entry(key, b)?,
                Body::Lsm(b) => m.serialize_entry(key, b)?,
                Body::Usdt(b) => m.serialize_entry(key, b)?,
                Body::Test(b) => m.serialize_entry(key, b)?,
                Body::RateLimit(b) => m.serialize_entry(key, b)?,
                Body::Legacy(_, b) => m.serialize_entry(key, b)?,
                Body::Unknown(_, b) => m.serialize_entry(key, b)?,
            }
        }
        if let Some(v) = &self.node_name {
            m.serialize_entry("node_name", v)?;
        }
        if let Some(v) = &self.time {
            m.serialize_entry("time", v)?;
        }
        if let Some(count) = self.aggregation_count {
            m.serialize_entry("aggregation_info", &AggregationInfo { count: Some(count), ..Default::default() })?;
        }
        if let Some(v) = &self.cluster_name {
            m.serialize_entry("cluster_name", v)?;
        }
        if let Some(v) = &self.node_labels {
            m.serialize_entry("node_labels", v)?;
        }
        m.end()
    }
}
