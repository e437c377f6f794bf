//! The simulated estate the traffic comes from: Linux hosts that are also Kubernetes
//! nodes, the pods of a small shop application running on them, the administrators who
//! log in, and a Cowrie honeypot. Built once from the seed; afterwards only the process
//! and session counters move.

use crate::rng::Rng;
use base64::Engine;

/// One Linux machine (auth.log host name and Kubernetes node name).
#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub name: String,
    pub ip: String,
    /// The third octet of its pod CIDR, 10.244.<n>.0/24.
    pub pod_net: u32,
    pub boot_ms: i64,
    next_pid: u32,
    next_pod_ip: u32,
    pub next_session: u32,
    pub logind_pid: u32,
    /// Long-lived parents of host processes: cron (cron jobs) and the kubelet.
    pub cron: Proc,
    pub init: Proc,
}

/// A process as Tetragon describes it.
#[derive(Debug, Clone)]
pub(crate) struct Proc {
    pub exec_id: String,
    pub pid: u32,
    pub uid: u32,
    pub cwd: String,
    pub binary: String,
    pub arguments: Option<String>,
    pub flags: &'static str,
    pub start_ms: i64,
    pub start_sub_ns: u32,
    pub parent_exec_id: Option<String>,
    /// Index into [`World::pods`]; `None` for processes of the node itself.
    pub pod: Option<usize>,
    /// Its pid inside the container's pid namespace.
    pub container_pid: Option<u32>,
    pub host: usize,
}

/// A workload of the simulated cluster.
#[derive(Debug)]
pub(crate) struct Workload {
    pub namespace: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub container: &'static str,
    pub image: &'static str,
    pub binary: &'static str,
    pub arguments: &'static str,
    pub cwd: &'static str,
    pub uid: u32,
    pub metrics_port: u16,
    /// Addresses its main process connects to (services, databases, external APIs).
    pub deps: &'static [(&'static str, u16)],
    /// Exec liveness probe: `sh -c` text, the binary it runs, that binary's arguments,
    /// and the loopback port the binary connects to.
    pub probe: Option<Probe>,
    /// 0 = one per node (DaemonSet).
    pub replicas: u32,
    /// Serves traffic from outside: where the simulated attackers get code execution.
    pub exposed: bool,
    pub service_account: &'static str,
}

#[derive(Debug)]
pub(crate) struct Probe {
    pub shell_command: &'static str,
    pub binary: &'static str,
    pub arguments: &'static str,
    pub port: u16,
}

pub(crate) const WORKLOADS: &[Workload] = &[
    Workload {
        namespace: "shop",
        name: "frontend",
        kind: "Deployment",
        container: "frontend",
        image: "ghcr.io/acme-shop/frontend:2.8.1",
        binary: "/usr/local/bin/node",
        arguments: "server.js",
        cwd: "/app",
        uid: 1000,
        metrics_port: 9464,
        deps: &[("10.96.52.90", 8080), ("10.96.18.233", 6379)],
        probe: None,
        replicas: 3,
        exposed: true,
        service_account: "frontend",
    },
    Workload {
        namespace: "shop",
        name: "checkout",
        kind: "Deployment",
        container: "checkout",
        image: "ghcr.io/acme-shop/checkout:1.14.2",
        binary: "/app/checkout",
        arguments: "--config /etc/checkout/config.yaml",
        cwd: "/app",
        uid: 65532,
        metrics_port: 9090,
        deps: &[("10.96.7.41", 5432), ("10.96.77.12", 8443), ("10.96.18.233", 6379)],
        probe: None,
        replicas: 2,
        exposed: true,
        service_account: "checkout",
    },
    Workload {
        namespace: "shop",
        name: "cart-redis",
        kind: "StatefulSet",
        container: "redis",
        image: "docker.io/library/redis:7.2.4",
        binary: "/usr/local/bin/redis-server",
        arguments: "*:6379",
        cwd: "/data",
        uid: 999,
        metrics_port: 9121,
        deps: &[],
        probe: Some(Probe {
            shell_command: "redis-cli -h 127.0.0.1 ping",
            binary: "/usr/local/bin/redis-cli",
            arguments: "-h 127.0.0.1 ping",
            port: 6379,
        }),
        replicas: 1,
        exposed: false,
        service_account: "default",
    },
    Workload {
        namespace: "data",
        name: "postgres",
        kind: "StatefulSet",
        container: "postgres",
        image: "docker.io/library/postgres:16.3",
        binary: "/usr/lib/postgresql/16/bin/postgres",
        arguments: "-c config_file=/etc/postgresql/postgresql.conf",
        cwd: "/var/lib/postgresql/data",
        uid: 999,
        metrics_port: 9187,
        deps: &[],
        probe: Some(Probe {
            shell_command: "pg_isready -U postgres -h 127.0.0.1 -p 5432",
            binary: "/usr/lib/postgresql/16/bin/pg_isready",
            arguments: "-U postgres -h 127.0.0.1 -p 5432",
            port: 5432,
        }),
        replicas: 1,
        exposed: false,
        service_account: "postgres",
    },
    Workload {
        namespace: "payments",
        name: "payments-api",
        kind: "Deployment",
        container: "api",
        image: "ghcr.io/acme-shop/payments:1.4.0",
        binary: "/usr/local/bin/python3.12",
        arguments: "-m gunicorn --bind 0.0.0.0:8443 --workers 4 payments.wsgi:application",
        cwd: "/srv",
        uid: 1001,
        metrics_port: 8000,
        // The database, and the card processor's public API.
        deps: &[("10.96.7.41", 5432), ("54.187.216.72", 443), ("54.241.31.99", 443)],
        probe: None,
        replicas: 2,
        exposed: true,
        service_account: "payments-api",
    },
    Workload {
        namespace: "monitoring",
        name: "prometheus",
        kind: "StatefulSet",
        container: "prometheus",
        image: "quay.io/prometheus/prometheus:v2.53.0",
        binary: "/bin/prometheus",
        arguments:
            "--config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus --web.enable-lifecycle",
        cwd: "/prometheus",
        uid: 65534,
        metrics_port: 9090,
        deps: &[],
        probe: None,
        replicas: 1,
        exposed: false,
        service_account: "prometheus",
    },
    Workload {
        namespace: "kube-system",
        name: "coredns",
        kind: "Deployment",
        container: "coredns",
        image: "registry.k8s.io/coredns/coredns:v1.11.1",
        binary: "/coredns",
        arguments: "-conf /etc/coredns/Corefile",
        cwd: "/",
        uid: 65532,
        metrics_port: 9153,
        deps: &[("10.0.0.2", 53)],
        probe: None,
        replicas: 2,
        exposed: false,
        service_account: "coredns",
    },
    Workload {
        namespace: "logging",
        name: "fluent-bit",
        kind: "DaemonSet",
        container: "fluent-bit",
        image: "cr.fluentbit.io/fluent/fluent-bit:3.0.7",
        binary: "/fluent-bit/bin/fluent-bit",
        arguments: "-c /fluent-bit/etc/fluent-bit.conf",
        cwd: "/",
        uid: 0,
        metrics_port: 2020,
        deps: &[("10.20.5.10", 9200)],
        probe: None,
        replicas: 0,
        exposed: false,
        service_account: "fluent-bit",
    },
];

/// The attacker's privileged debug pod (see [`World::attacker_pod`]).
pub(crate) static DEBUG_WORKLOAD: Workload = Workload {
    namespace: "default",
    name: "node-debugger",
    kind: "Pod",
    container: "debugger",
    image: "docker.io/library/ubuntu:22.04",
    binary: "/usr/bin/sleep",
    arguments: "infinity",
    cwd: "/",
    uid: 0,
    metrics_port: 0,
    deps: &[],
    probe: None,
    replicas: 1,
    exposed: false,
    service_account: "default",
};

/// A running pod.
#[derive(Debug, Clone)]
pub(crate) struct Pod {
    pub workload: &'static Workload,
    pub name: String,
    pub ip: String,
    pub container_id: String,
    pub image_digest: String,
    pub started_ms: i64,
    pub labels: Vec<(String, String)>,
    pub shim: Proc,
    pub main: Proc,
    next_container_pid: u32,
}

/// A person or automation account that logs in to the hosts over SSH.
#[derive(Debug, Clone)]
pub(crate) struct Admin {
    pub name: &'static str,
    pub uid: u32,
    pub workstation: &'static str,
    pub key: String,
    /// Logs in with a password rather than a key (and sometimes mistypes it).
    pub password: bool,
}

/// The Cowrie sensor.
#[derive(Debug, Clone)]
pub(crate) struct Sensor {
    pub name: String,
    pub ip: String,
    pub uuid: String,
}

#[derive(Debug)]
pub(crate) struct World {
    pub hosts: Vec<Host>,
    pub pods: Vec<Pod>,
    pub admins: Vec<Admin>,
    pub sensor: Sensor,
    /// Pods `0..background_pods` belong to the application; the slot after them holds
    /// the current attacker pod.
    pub background_pods: usize,
    /// Address the control-plane components call the API server from.
    pub control_plane_ip: &'static str,
}

/// Alphabet of generated Kubernetes name suffixes (no vowels, no look-alike digits).
pub(crate) const K8S_SUFFIX: &str = "bcdfghjklmnpqrstvwxz2456789";

impl World {
    pub(crate) fn new(rng: &mut Rng, hosts: u32, start_ms: i64) -> World {
        let mut host_list: Vec<Host> = (0..hosts).map(|i| Host::new(rng, i, start_ms)).collect();
        let mut pods = Vec::new();
        let mut next_host = 0usize;
        for workload in WORKLOADS {
            let template_hash = rng.chars(K8S_SUFFIX, 10);
            let placements: Vec<usize> = if workload.replicas == 0 {
                (0..host_list.len()).collect()
            } else {
                (0..workload.replicas)
                    .map(|_| {
                        next_host = (next_host + 1) % host_list.len();
                        next_host
                    })
                    .collect()
            };
            for (replica, host) in placements.into_iter().enumerate() {
                let name = match workload.kind {
                    "StatefulSet" => format!("{}-{replica}", workload.name),
                    "DaemonSet" => format!("{}-{}", workload.name, rng.chars(K8S_SUFFIX, 5)),
                    _ => format!("{}-{template_hash}-{}", workload.name, rng.chars(K8S_SUFFIX, 5)),
                };
                let mut labels = vec![("app.kubernetes.io/name".to_string(), workload.name.to_string())];
                if workload.kind == "Deployment" {
                    labels.push(("pod-template-hash".into(), template_hash.clone()));
                }
                let pod_index = pods.len();
                let pod = Pod::new(rng, workload, name, labels, &mut host_list, host, pod_index, start_ms);
                pods.push(pod);
            }
        }
        let key = |rng: &mut Rng| {
            format!(
                "ED25519 SHA256:{}",
                rng.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 43)
            )
        };
        let admins = vec![
            Admin { name: "alice", uid: 1001, workstation: "10.8.0.12", key: key(rng), password: false },
            Admin { name: "bob", uid: 1002, workstation: "10.8.0.27", key: key(rng), password: true },
            Admin { name: "carol", uid: 1003, workstation: "10.8.0.31", key: key(rng), password: false },
            Admin { name: "deploy", uid: 1004, workstation: "10.0.9.14", key: key(rng), password: false },
            Admin { name: "ansible", uid: 1005, workstation: "10.8.0.5", key: key(rng), password: false },
        ];
        let sensor = Sensor { name: "ip-172-31-41-217".into(), ip: "172.31.41.217".into(), uuid: rng.uuid() };
        let background_pods = pods.len();
        World { hosts: host_list, pods, admins, sensor, background_pods, control_plane_ip: "10.0.0.10" }
    }

    /// Pods of workloads attackers can reach from outside.
    pub(crate) fn exposed_pods(&self) -> Vec<usize> {
        (0..self.background_pods).filter(|&i| self.pods[i].workload.exposed).collect()
    }

    /// A new process on `host` (in `pod` when given), started at `ms`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn spawn(
        &mut self,
        rng: &mut Rng,
        host: usize,
        pod: Option<usize>,
        parent: &Proc,
        binary: &str,
        arguments: Option<&str>,
        uid: u32,
        cwd: &str,
        ms: i64,
    ) -> Proc {
        let pid = self.hosts[host].take_pid(rng);
        let container_pid = pod.map(|p| self.pods[p].take_container_pid(rng));
        let sub_ns = rng.below(1_000_000) as u32;
        let exec_id = exec_id(&self.hosts[host], ms, sub_ns, pid);
        Proc {
            exec_id,
            pid,
            uid,
            cwd: cwd.to_string(),
            binary: binary.to_string(),
            arguments: arguments.map(str::to_string),
            flags: if cwd == "/" { "execve rootcwd clone" } else { "execve clone" },
            start_ms: ms,
            start_sub_ns: sub_ns,
            parent_exec_id: Some(parent.exec_id.clone()),
            pod,
            container_pid,
            host,
        }
    }

    /// The pod an attacker created for one attack instance (`kubectl run` of a
    /// privileged debug pod). It lives in the last slot of `pods`, which the background
    /// never uses, and is replaced by the next instance's pod.
    pub(crate) fn attacker_pod(&mut self, rng: &mut Rng, name: String, host: usize, ms: i64) -> usize {
        let index = self.background_pods;
        let labels = vec![("run".to_string(), name.clone())];
        let pod = Pod::new(rng, &DEBUG_WORKLOAD, name, labels, &mut self.hosts, host, index, ms);
        if self.pods.len() > index {
            self.pods[index] = pod;
        } else {
            self.pods.push(pod);
        }
        index
    }
}

impl Host {
    fn new(rng: &mut Rng, index: u32, start_ms: i64) -> Host {
        let (third, fourth) = (1 + index / 200, 10 + index % 200);
        let name = format!("ip-10-0-{third}-{fourth}");
        let boot_ms = start_ms - rng.range(2, 40) * 86_400_000 - rng.range(0, 86_400_000);
        let mut host = Host {
            name,
            ip: format!("10.0.{third}.{fourth}"),
            pod_net: index % 256,
            boot_ms,
            next_pid: rng.range(20_000, 90_000) as u32,
            next_pod_ip: 2,
            next_session: rng.range(3, 400) as u32,
            logind_pid: rng.range(550, 900) as u32,
            cron: placeholder_proc(),
            init: placeholder_proc(),
        };
        let init_start = boot_ms + 300;
        host.init = Proc {
            exec_id: exec_id(&host, init_start, 0, 1),
            pid: 1,
            uid: 0,
            cwd: "/".into(),
            binary: "/usr/lib/systemd/systemd".into(),
            arguments: Some("--system --deserialize=31".into()),
            flags: "procFS auid rootcwd",
            start_ms: init_start,
            start_sub_ns: 0,
            parent_exec_id: None,
            pod: None,
            container_pid: None,
            host: index as usize,
        };
        let cron_start = boot_ms + rng.range(4_000, 9_000);
        let cron_pid = rng.range(600, 1200) as u32;
        host.cron = Proc {
            exec_id: exec_id(&host, cron_start, 0, cron_pid),
            pid: cron_pid,
            uid: 0,
            cwd: "/".into(),
            binary: "/usr/sbin/cron".into(),
            arguments: Some("-f -P".into()),
            flags: "procFS auid rootcwd",
            start_ms: cron_start,
            start_sub_ns: 0,
            parent_exec_id: Some(host.init.exec_id.clone()),
            pod: None,
            container_pid: None,
            host: index as usize,
        };
        host
    }

    pub(crate) fn take_pid(&mut self, rng: &mut Rng) -> u32 {
        self.next_pid += rng.range(1, 40) as u32;
        if self.next_pid > 4_000_000 {
            self.next_pid = 3000;
        }
        self.next_pid
    }
}

impl Pod {
    #[allow(clippy::too_many_arguments)]
    fn new(
        rng: &mut Rng,
        workload: &'static Workload,
        name: String,
        labels: Vec<(String, String)>,
        hosts: &mut [Host],
        host: usize,
        pod_index: usize,
        start_ms: i64,
    ) -> Pod {
        let h = &mut hosts[host];
        let ip = format!("10.244.{}.{}", h.pod_net, h.next_pod_ip);
        h.next_pod_ip = if h.next_pod_ip >= 254 { 2 } else { h.next_pod_ip + 1 };
        // Pods started a while before the traffic begins (an attacker's pod: just now).
        let started_ms =
            if workload.namespace == "default" { start_ms } else { start_ms - rng.range(3_600_000, 20 * 86_400_000) };
        let sandbox = rng.hex(64);
        let shim_pid = h.take_pid(rng);
        let shim = Proc {
            exec_id: exec_id(h, started_ms - 900, 0, shim_pid),
            pid: shim_pid,
            uid: 0,
            cwd: format!("/run/containerd/io.containerd.runtime.v2.task/k8s.io/{sandbox}"),
            binary: "/usr/bin/containerd-shim-runc-v2".into(),
            arguments: Some(format!("-namespace k8s.io -id {sandbox} -address /run/containerd/containerd.sock")),
            flags: "execve clone",
            start_ms: started_ms - 900,
            start_sub_ns: rng.below(1_000_000) as u32,
            parent_exec_id: Some(h.init.exec_id.clone()),
            pod: None,
            container_pid: None,
            host,
        };
        let main_pid = h.take_pid(rng);
        let main = Proc {
            exec_id: exec_id(h, started_ms, 0, main_pid),
            pid: main_pid,
            uid: workload.uid,
            cwd: workload.cwd.to_string(),
            binary: workload.binary.to_string(),
            arguments: Some(workload.arguments.to_string()),
            flags: if workload.cwd == "/" { "execve rootcwd clone" } else { "execve clone" },
            start_ms: started_ms,
            start_sub_ns: rng.below(1_000_000) as u32,
            parent_exec_id: Some(shim.exec_id.clone()),
            pod: Some(pod_index),
            container_pid: Some(1),
            host,
        };
        Pod {
            workload,
            name,
            ip,
            container_id: rng.hex(64),
            image_digest: rng.hex(64),
            started_ms,
            labels,
            shim,
            main,
            next_container_pid: 1,
        }
    }

    fn take_container_pid(&mut self, rng: &mut Rng) -> u32 {
        self.next_container_pid += rng.range(1, 6) as u32;
        if self.next_container_pid > 4_000_000 {
            self.next_container_pid = 2;
        }
        self.next_container_pid
    }

    /// `docker.io/library/redis@sha256:…` for image `docker.io/library/redis:7.2.4`.
    pub(crate) fn image_id(&self) -> String {
        let image = self.workload.image;
        let repo = match image.rfind(':') {
            Some(i) if !image[i..].contains('/') => &image[..i],
            _ => image,
        };
        format!("{repo}@sha256:{}", self.image_digest)
    }
}

fn placeholder_proc() -> Proc {
    Proc {
        exec_id: String::new(),
        pid: 0,
        uid: 0,
        cwd: String::new(),
        binary: String::new(),
        arguments: None,
        flags: "",
        start_ms: 0,
        start_sub_ns: 0,
        parent_exec_id: None,
        pod: None,
        container_pid: None,
        host: 0,
    }
}

/// Tetragon's exec id: base64 of `<node>:<nanoseconds since boot>:<pid>`.
fn exec_id(host: &Host, ms: i64, sub_ns: u32, pid: u32) -> String {
    let ktime = (ms - host.boot_ms).max(1) as i128 * 1_000_000 + sub_ns as i128;
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{ktime}:{pid}", host.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_host_gets_a_fluent_bit_pod_and_ids_are_unique() {
        let world = World::new(&mut Rng::new(5), 3, 1_700_000_000_000);
        let fluent: Vec<_> = world.pods.iter().filter(|p| p.workload.name == "fluent-bit").collect();
        assert_eq!(fluent.len(), 3);
        let mut ips: Vec<_> = world.pods.iter().map(|p| p.ip.clone()).collect();
        ips.sort();
        ips.dedup();
        assert_eq!(ips.len(), world.pods.len());
        assert!(world.exposed_pods().iter().all(|&p| world.pods[p].workload.exposed));
        let decoded = base64::engine::general_purpose::STANDARD.decode(&world.pods[0].main.exec_id).unwrap();
        assert!(String::from_utf8(decoded).unwrap().starts_with("ip-10-0-1-"));
        assert_eq!(world.pods[2].image_id().split('@').next(), Some("ghcr.io/acme-shop/frontend"));
    }
}
