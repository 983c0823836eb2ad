//! Servers are bound through their ports: Open Telekom Cloud and Huawei Cloud attach an EIP to a
//! Neutron port, so an `EcsInstance` target (a server ID, as a Node's providerID names it) is
//! looked up as `GET /v1/{project_id}/ports?device_id=<server-id>` (the VPC API's port list, the
//! official SDK's `huaweicloudsdkvpc.v2.VpcClient.list_ports`) and bound as that `Port`.
//!
//! Which port: the one holding `privateIpAddress` when the binding names one; otherwise the
//! server's primary port, the first compute port of the list (Neutron lists a server's ports in
//! creation order, and the primary interface is created with the server). No port is a terminal
//! `InvalidBindingTarget` naming the server.

use std::collections::HashSet;

use reqwest::Method;
use serde::Deserialize;

use super::answers::success_body;
use super::records::Obj;
use super::{Inner, Session};
use eip_cloud::http::{self, Answer};
use eip_cloud::{BindTarget, Blocker, CloudError, InstanceType, Operation};

/// `{"ports":[…]}`.
#[derive(Deserialize)]
struct PortList {
    ports: Vec<Obj<WirePort>>,
}

#[derive(Deserialize)]
struct WirePort {
    id: String,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    device_owner: Option<String>,
    #[serde(default)]
    fixed_ips: Vec<Obj<WireFixedIp>>,
}

#[derive(Deserialize)]
struct WireFixedIp {
    #[serde(default)]
    ip_address: Option<String>,
}

/// The fields of a port the lookup reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortRecord {
    pub id: String,
    pub device_id: Option<String>,
    pub device_owner: Option<String>,
    /// Its fixed IP addresses.
    pub ips: Vec<String>,
}

impl From<WirePort> for PortRecord {
    fn from(port: WirePort) -> Self {
        PortRecord {
            id: port.id,
            device_id: port.device_id,
            device_owner: port.device_owner,
            ips: port.fixed_ips.into_iter().filter_map(|Obj(ip)| ip.ip_address).collect(),
        }
    }
}

impl PortRecord {
    fn holds(&self, ip: &str) -> bool {
        self.ips.iter().any(|held| held == ip)
    }

    fn is_compute(&self) -> bool {
        self.device_owner.as_deref().is_some_and(|o| o.starts_with("compute:"))
    }
}

/// The ports of one server, as the list answered: typed, each with an ID, none twice, each
/// belonging to the server asked for (a list that ignores the `device_id` filter proves nothing).
pub fn ports_answer(answer: &Answer, server: &str) -> Result<Vec<PortRecord>, CloudError> {
    let op = Operation::ResolveTarget;
    let list: PortList = success_body(op, answer, "port list")?;
    let ports: Vec<PortRecord> = list.ports.into_iter().map(|Obj(p)| p.into()).collect();
    let mut seen = HashSet::new();
    for port in &ports {
        if port.id.is_empty() || !seen.insert(port.id.as_str()) {
            return Err(http::invalid_response(op, "the port list holds a port without an ID, or one twice"));
        }
        if port.device_id.as_deref() != Some(server) {
            return Err(http::invalid_response(
                op,
                format!("the port list for server {server} holds port {} of another device", port.id),
            ));
        }
    }
    Ok(ports)
}

/// The port to bind for a server with `ports`: the one holding `private_ip` when asked for,
/// otherwise the first compute port (the primary interface), otherwise the first port.
pub fn choose_port<'a>(ports: &'a [PortRecord], private_ip: Option<&str>) -> Option<&'a PortRecord> {
    match private_ip {
        Some(ip) => ports.iter().find(|p| p.holds(ip)),
        None => ports.iter().find(|p| p.is_compute()).or_else(|| ports.first()),
    }
}

impl Inner {
    /// The port an EIP bound to server `target` is attached to.
    pub(super) async fn server_port(&self, session: &Session, target: &BindTarget) -> Result<BindTarget, CloudError> {
        let op = Operation::ResolveTarget;
        let server = target.instance_id.as_str();
        let query = vec![("device_id".to_owned(), server.to_owned())];
        let ports = self
            .exchange(session, op, Method::GET, "/v1/{project}/ports", query, None, |answer| {
                ports_answer(answer, server)
            })
            .await?;
        let ip = target.private_ip_address.as_deref();
        let Some(port) = choose_port(&ports, ip) else {
            let what = match ip {
                Some(ip) => format!("server {server} has no port holding {ip} ({} ports)", ports.len()),
                None => format!("server {server} has no port in this project and region"),
            };
            return Err(CloudError::terminal(op, Blocker::InvalidBindingTarget, "ServerPortNotFound", what));
        };
        Ok(BindTarget {
            instance_type: InstanceType::Port,
            instance_id: port.id.clone(),
            private_ip_address: target.private_ip_address.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(id: &str, owner: &str, ips: &[&str]) -> PortRecord {
        PortRecord {
            id: id.into(),
            device_id: Some("srv".into()),
            device_owner: Some(owner.into()),
            ips: ips.iter().map(|ip| (*ip).to_string()).collect(),
        }
    }

    #[test]
    fn the_port_chosen_for_a_server() {
        let ports = [
            port("p-dhcp", "network:dhcp", &["10.0.0.2"]),
            port("p-primary", "compute:eu-de-01", &["10.0.0.7"]),
            port("p-second", "compute:eu-de-01", &["10.0.1.7", "10.0.1.8"]),
        ];
        let cases: [(&[PortRecord], Option<&str>, Option<&str>); 6] = [
            (&ports, None, Some("p-primary")),
            (&ports, Some("10.0.1.8"), Some("p-second")),
            (&ports, Some("10.0.0.7"), Some("p-primary")),
            (&ports, Some("10.9.9.9"), None),
            (&ports[..1], None, Some("p-dhcp")),
            (&[], None, None),
        ];
        for (ports, ip, want) in cases {
            assert_eq!(choose_port(ports, ip).map(|p| p.id.as_str()), want, "{ip:?}");
        }
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: Default::default(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn port_lists_are_read_strictly() {
        let good = r#"{"ports":[{"id":"p1","device_id":"srv","device_owner":"compute:x","fixed_ips":[{"ip_address":"10.0.0.7","subnet_id":"s"}],"status":"ACTIVE"}]}"#;
        let ports = ports_answer(&answer(200, good), "srv").expect("typed");
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].id, "p1");
        assert!(ports_answer(&answer(200, r#"{"ports":[]}"#), "srv").expect("empty").is_empty());
        for bad in [
            r#"{}"#,
            r#"{"ports":null}"#,
            r#"{"ports":[{"device_id":"srv"}]}"#,
            r#"{"ports":[{"id":"","device_id":"srv"}]}"#,
            r#"{"ports":[{"id":"p1","device_id":"srv"},{"id":"p1","device_id":"srv"}]}"#,
            r#"{"ports":[{"id":"p1","device_id":"other"}]}"#,
            r#"{"ports":[],"error_code":"VPC.0101"}"#,
            "not json",
        ] {
            let err = ports_answer(&answer(200, bad), "srv").expect_err(bad);
            assert_eq!(err.class(), eip_cloud::ErrorClass::Retryable, "{bad}");
        }
        let refused = ports_answer(&answer(403, r#"{"code":"VPC.0002","message":"no"}"#), "srv").expect_err("403");
        assert_eq!(refused.operation, Operation::ResolveTarget);
    }
}
