use super::*;
use eip_cloud::InstanceType;

#[test]
fn association_ids_follow_the_binding() {
    let target = |id: &str| eip_cloud::BindTarget {
        instance_type: InstanceType::EcsInstance,
        instance_id: id.into(),
        private_ip_address: Some("10.0.0.5".into()),
    };
    let a = actions::association_id("eipalloc-1", &target("i-1"));
    assert!(a.starts_with("eipassoc-") && a.len() == "eipassoc-".len() + 17, "{a}");
    assert_eq!(a, actions::association_id("eipalloc-1", &target("i-1")));
    assert_ne!(a, actions::association_id("eipalloc-1", &target("i-2")));
    assert_ne!(a, actions::association_id("eipalloc-2", &target("i-1")));
}

#[test]
fn text_is_escaped() {
    assert_eq!(element("key", "a<b>&\"c'"), "<key>a&lt;b&gt;&amp;&quot;c&apos;</key>");
}

#[tokio::test]
async fn unsigned_calls_are_refused_with_an_ec2_error_body() {
    let router = crate::server::router(Simulator::default());
    let form = b"Action=DescribeAddresses&Version=2016-11-15".to_vec();
    let headers = vec![("content-type".to_owned(), b"application/x-www-form-urlencoded".to_vec())];
    let answer = crate::server::exchange(&router, b"POST", "/aws/", &headers, form).await;
    assert_eq!(answer.status, 401);
    let body = String::from_utf8(answer.body.to_vec()).expect("utf-8");
    assert!(
        body.contains("<Code>MissingAuthenticationToken</Code>") && body.contains("<RequestID>"),
        "{body}"
    );
}
