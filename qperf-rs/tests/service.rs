//! qperf through an emulated Kubernetes Service (issue 10), root only: the
//! server runs in a network namespace "pod", and kube-proxy's iptables mode
//! is reproduced with DNAT rules from a virtual ClusterIP (198.18.0.0/15)
//! to the pod ([`testkit::netns`]; everything is removed on drop, also on
//! failure).  Without root, `ip netns` or iptables, each test prints why it
//! skips.

use std::net::SocketAddrV4;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::netns::{self, Pod, Proto, Service};
use testkit::proc::{ChildGuard, Finished};

const OURS: &str = env!("CARGO_BIN_EXE_qperf");
/// The pod's listen port, as in the runbook's `-lp 4000 -ip 4001`.
const PORT: u16 = 4000;
/// The NodePort-like number that is translated to [`PORT`].
const NODE_PORT: u16 = 30400;
/// Short tests, the same for every run.
const TESTS: &str = "-t 1 tcp_bw tcp_lat udp_bw udp_lat";
/// The seed's sweep, one second per test.
const SWEEP: &str = "-t 1 -oo msg_size:1:256K:*64 -vu tcp_bw tcp_lat";

/// Pod fixtures, or `None` after printing why they cannot run here.  The
/// stock client is needed too (CI: `NETBENCH_REQUIRE_STOCK=1` fails).
fn fixtures() -> Option<String> {
    if let Some(why) = netns::unavailable() {
        eprintln!("skipping: {why}");
        return None;
    }
    let stock = testkit::stock::require("qperf")?;
    Some(stock.to_string_lossy().into_owned())
}

/// A qperf server (`bin`) listening on [`PORT`] in `pod`; killed on drop.
fn server_in(pod: &Pod, bin: &str) -> ChildGuard {
    let mut c = pod.command(bin);
    c.args(["-lp", &PORT.to_string()]);
    let mut child = ChildGuard::spawn(&mut c).expect("start server in pod");
    child
        .wait_for_port(
            SocketAddrV4::new(pod.addr, PORT).into(),
            Duration::from_secs(10),
        )
        .expect("server in pod listens");
    child
}

/// Runs a client with `host -lp port` + `args`, bounded in time.
fn client(bin: &str, host: &str, port: u16, args: &str) -> Finished {
    let mut c = Command::new(bin);
    c.args([host, "-lp", &port.to_string()])
        .args(args.split_whitespace());
    testkit::proc::run(&mut c, Duration::from_secs(60)).expect("client ran")
}

/// The output's shape: test headers and the names of the figures.
fn shape(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| l.split('=').next().unwrap_or("").trim().to_string())
        .collect()
}

fn ok(f: &Finished, what: &str) -> String {
    let out = f.stdout_str();
    assert_eq!(
        (f.code(), f.stderr_str().as_str(), f.timed_out),
        (Some(0), "", false),
        "{what}: {out}"
    );
    out
}

/// A Service on `vip` → `pod`: each (service port, pod port), TCP and UDP.
fn service(pod: &Pod, ports: &[(u16, u16)]) -> Service {
    let mut svc = Service::create(&pod.host_if).expect("service");
    for &(port, target) in ports {
        for proto in [Proto::Tcp, Proto::Udp] {
            svc.expose(proto, port, &[SocketAddrV4::new(pod.addr, target)])
                .expect("expose");
        }
    }
    svc
}

#[test]
fn stock_server_without_ip_fails_through_the_service() {
    let Some(stock) = fixtures() else { return };
    let pod = Pod::create().expect("pod");
    let _srv = server_in(&pod, &stock);
    let svc = service(&pod, &[(PORT, PORT)]);
    let f = client(&stock, &svc.vip.to_string(), PORT, "-t 1 tcp_bw");
    assert_eq!(f.code(), Some(1), "{}", f.stdout_str());
    assert_eq!(
        f.stdout_str(),
        "tcp_bw:\ncould not make TCP connection to server\n"
    );
}

#[test]
fn stock_client_through_a_one_port_service_to_our_server() {
    let Some(stock) = fixtures() else { return };
    let pod = Pod::create().expect("pod");
    let _srv = server_in(&pod, OURS);
    let svc = service(&pod, &[(PORT, PORT)]);
    let vip = svc.vip.to_string();
    let direct = pod.addr.to_string();
    for args in [TESTS, SWEEP] {
        let via = ok(&client(&stock, &vip, PORT, args), args);
        let want = ok(&client(&stock, &direct, PORT, args), args);
        assert_eq!(
            shape(&via),
            shape(&want),
            "{args}:\n{via}\nvs direct:\n{want}"
        );
        assert!(via.starts_with("tcp_bw:\n"), "{via}");
    }
}

#[test]
fn our_client_single_port_through_a_node_port() {
    let Some(stock) = fixtures() else { return };
    let pod = Pod::create().expect("pod");
    let _srv = server_in(&pod, OURS);
    let svc = service(&pod, &[(NODE_PORT, PORT)]);
    let vip = svc.vip.to_string();
    let direct = pod.addr.to_string();
    for args in [TESTS, SWEEP] {
        let via = ok(
            &client(OURS, &vip, NODE_PORT, &format!("-sip {args}")),
            args,
        );
        let want = ok(&client(&stock, &direct, PORT, args), args);
        assert_eq!(
            shape(&via),
            shape(&want),
            "{args}:\n{via}\nvs direct:\n{want}"
        );
    }
    // Without --single_port the announced 4000 is not exposed: stock's
    // error first, then our hint naming where we tried.
    let f = client(OURS, &vip, NODE_PORT, "-t 1 tcp_bw");
    let out = f.stdout_str();
    assert_eq!(f.code(), Some(1), "{out}");
    let hint = format!(
        "tcp_bw:\ncould not make TCP connection to server\nqperf: tried TCP {vip}:{PORT}, "
    );
    assert!(out.starts_with(&hint), "{out}");
}

#[test]
fn stock_ip_recipe_through_a_two_port_service() {
    let Some(stock) = fixtures() else { return };
    let pod = Pod::create().expect("pod");
    let _srv = server_in(&pod, OURS);
    let svc = service(&pod, &[(PORT, PORT), (PORT + 1, PORT + 1)]);
    let args = format!("-ip {} -t 1 tcp_bw tcp_lat udp_bw udp_lat", PORT + 1);
    let via = ok(&client(&stock, &svc.vip.to_string(), PORT, &args), &args);
    let want = ok(&client(&stock, &pod.addr.to_string(), PORT, &args), &args);
    assert_eq!(shape(&via), shape(&want), "{via}\nvs direct:\n{want}");
}

#[test]
fn two_concurrent_stock_clients_through_the_service_then_a_third() {
    let Some(stock) = fixtures() else { return };
    let pod = Pod::create().expect("pod");
    let _srv = server_in(&pod, OURS);
    let svc = service(&pod, &[(PORT, PORT)]);
    let vip = svc.vip.to_string();
    let both: Vec<_> = (0..2)
        .map(|_| {
            let (stock, vip) = (stock.clone(), vip.clone());
            std::thread::spawn(move || client(&stock, &vip, PORT, "-t 1 tcp_bw"))
        })
        .collect();
    for t in both {
        let out = ok(&t.join().expect("client thread"), "concurrent");
        assert!(out.starts_with("tcp_bw:\n    bw  =  "), "{out}");
    }
    let out = ok(&client(&stock, &vip, PORT, "-t 1 tcp_lat"), "third");
    assert!(out.starts_with("tcp_lat:\n    latency  =  "), "{out}");
}

/// Two replicas of our server behind one Service without session
/// affinity: the data connection lands on the other pod, and the client
/// hears why within seconds (no hang).
#[test]
fn data_connection_balanced_to_another_replica_is_refused_with_the_cause() {
    let Some(stock) = fixtures() else { return };
    let (a, b) = (Pod::create().expect("pod a"), Pod::create().expect("pod b"));
    let _sa = server_in(&a, OURS);
    let _sb = server_in(&b, OURS);
    let mut svc = Service::create(&a.host_if).expect("service");
    let backends = [
        SocketAddrV4::new(a.addr, PORT),
        SocketAddrV4::new(b.addr, PORT),
    ];
    svc.expose(Proto::Tcp, PORT, &backends).expect("expose");
    let vip = svc.vip.to_string();
    let cause = |err: &str| {
        assert!(err.starts_with("server: the data connection"), "{err}");
        assert!(err.contains("sessionAffinity: ClientIP"), "{err}");
    };
    // Our client reads the server's error text whole.
    let t0 = Instant::now();
    let f = client(OURS, &vip, PORT, "-t 1 tcp_bw");
    assert_eq!(f.code(), Some(1), "{}", f.stdout_str());
    cause(&f.stderr_str());
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    // Stock's reads what has arrived when SIGURG comes and may print just
    // `server: ` (its race, spec §4.12); fails as fast either way.
    let t0 = Instant::now();
    let f = client(&stock, &vip, PORT, "-t 1 tcp_bw");
    assert_eq!(f.code(), Some(1), "{}", f.stdout_str());
    let err = f.stderr_str();
    if err != "server: \n" {
        cause(&err);
    }
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    // Both replicas still serve (each on its own address).
    for pod in [&a, &b] {
        ok(
            &client(&stock, &pod.addr.to_string(), PORT, "-t 1 tcp_lat"),
            "replica",
        );
    }
}

/// The shipped manifest (no cluster needed): one port, TCP and UDP, on the
/// pod and the Service, equal to the server's `-lp`, and session affinity.
#[test]
fn manifest_exposes_the_listen_port_on_tcp_and_udp_with_affinity() {
    let path = format!(
        "{}/../deploy/k8s/qperf-server.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let m = std::fs::read_to_string(&path).expect("deploy/k8s/qperf-server.yaml");
    let docs: Vec<&str> = m.split("\n---\n").collect();
    assert_eq!(docs.len(), 2, "Deployment + Service");
    assert!(docs[0].contains("kind: Deployment") && docs[1].contains("kind: Service"));
    assert!(docs[0].contains(r#"command: ["qperf", "-lp", "4000"]"#));
    assert!(docs[0].contains("# runtimeClassName: kata"));
    assert!(docs[1].contains("\n  sessionAffinity: ClientIP\n"));
    let ports = |doc: &str, key: &str| -> Vec<(String, String)> {
        let lines: Vec<&str> = doc.lines().map(str::trim).collect();
        lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.strip_prefix(key).map(|v| (i, v.trim().to_string())))
            .map(|(i, v)| {
                let proto = lines[i..]
                    .iter()
                    .find_map(|l| l.strip_prefix("protocol:"))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                (v, proto)
            })
            .collect()
    };
    let both = vec![("4000".into(), "TCP".into()), ("4000".into(), "UDP".into())];
    assert_eq!(ports(docs[0], "containerPort:"), both);
    assert_eq!(ports(docs[1], "port:"), both);
    assert_eq!(ports(docs[1], "targetPort:"), both);
}
