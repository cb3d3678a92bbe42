//! Apps behind the local sandbox's EC2: an instance launched from an image that serves an app
//! runs it on its own loopback address (its described private IP), and the quickstart's app
//! answers `/health` once the restored database its user data names answers; stopping the
//! database (a data-plane fault), making the app answer 500, or stopping the instance shows
//! in it.

mod support;

use std::time::Duration;

use aws_sdk_ec2::types::Filter;
use firedrill::sandbox::{ProxyConfig, local};
use support::sandbox::TestSandbox;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The status and body of `GET path` at `ip:8080`, or why there is none.
async fn get(ip: &str, path: &str) -> Result<(u16, String), String> {
    let mut stream = tokio::net::TcpStream::connect((ip, 8080))
        .await
        .map_err(|e| e.to_string())?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nhost: {ip}\r\n\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not HTTP: {answer}"))?;
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    Ok((status, body))
}

/// Asks `/health` until the answer's status is `want` (the app and the database start on
/// their own time), for at most ten seconds; the last answer.
async fn health_until(ip: &str, want: u16) -> Result<(u16, String), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = get(ip, "/health").await;
        if answer.as_ref().is_ok_and(|(s, _)| *s == want) || tokio::time::Instant::now() > deadline
        {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sandbox() -> TestSandbox {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.0,
        ..ProxyConfig::default()
    })
    .await;
    sandbox
        .seed_file(&support::root().join("examples/quickstart/seed.yaml"))
        .await;
    sandbox
}

/// The id of the image named `name`.
async fn image(sandbox: &TestSandbox, name: &str) -> String {
    let images = sandbox
        .clients()
        .await
        .ec2()
        .describe_images()
        .filters(Filter::builder().name("name").values(name).build())
        .send()
        .await
        .expect("images");
    images.images()[0].image_id().expect("an id").to_owned()
}

/// Launches one instance of `image` with `user_data`: its id and described private IP.
async fn launch(sandbox: &TestSandbox, image: &str, user_data: &str) -> (String, String) {
    let ran = sandbox
        .clients()
        .await
        .ec2()
        .run_instances()
        .image_id(image)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .user_data(aws_smithy_types::base64::encode(user_data))
        .send()
        .await
        .expect("launch");
    let id = ran.instances()[0].instance_id().expect("an id").to_owned();
    let described = sandbox
        .clients()
        .await
        .ec2()
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .expect("describe");
    let ip = described.reservations()[0].instances()[0]
        .private_ip_address()
        .expect("a private IP")
        .to_owned();
    assert_eq!(
        ran.instances()[0].private_ip_address(),
        Some(ip.as_str()),
        "the launch's answer and the describe agree"
    );
    (id, ip)
}

async fn control(sandbox: &TestSandbox, path: &str, body: &str) {
    local::request(
        &sandbox.endpoint,
        http::Method::POST,
        path,
        Some(body.as_bytes().to_vec()),
    )
    .await
    .unwrap_or_else(|e| panic!("{path}: {e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apps_health_follows_its_database() {
    let sandbox = sandbox().await;
    let rds = sandbox.clients().await.rds();
    rds.restore_db_instance_from_db_snapshot()
        .db_instance_identifier("drill-db")
        .db_snapshot_identifier("shop-prod-nightly-1")
        .send()
        .await
        .expect("restore");
    let described = rds
        .describe_db_instances()
        .db_instance_identifier("drill-db")
        .send()
        .await
        .expect("describe");
    let endpoint = described.db_instances()[0].endpoint().expect("an endpoint");
    let url = format!(
        "DATABASE_URL=postgres://shop@{}:{}/shop",
        endpoint.address().expect("address"),
        endpoint.port().expect("port")
    );

    let shop = image(&sandbox, "shop-app-2026-11-20").await;
    let (id, ip) = launch(
        &sandbox,
        &shop,
        &format!("#!/bin/sh\necho {url} >> /etc/shop.env\n"),
    )
    .await;
    let address: std::net::Ipv4Addr = ip.parse().expect("an IPv4 address");
    assert!(
        address.is_loopback() && address.octets()[1] != 0,
        "its own loopback address: {ip}"
    );
    let (status, body) = health_until(&ip, 200).await.expect("the app answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\": \"ok\""), "{body}");

    // The database stopped for a while: the app says so, then recovers on its own.
    control(
        &sandbox,
        "/__firedrill/data/stop",
        r#"{"instance": "drill-db", "for_secs": 1}"#,
    )
    .await;
    let (status, body) = get(&ip, "/health").await.expect("the app answers");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("does not answer"), "{body}");
    let (status, body) = health_until(&ip, 200).await.expect("the app answers");
    assert_eq!(status, 200, "the database is back after its while: {body}");

    // The app made to answer 500 for a while, by the sandbox in front of it.
    control(
        &sandbox,
        "/__firedrill/apps/fail",
        &format!(r#"{{"instance": "{id}", "for_secs": 1}}"#),
    )
    .await;
    let (status, body) = get(&ip, "/").await.expect("the front answers");
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("the local sandbox made this app answer 500"),
        "{body}"
    );
    let (status, body) = health_until(&ip, 200).await.expect("the app answers");
    assert_eq!(status, 200, "healthy again after its while: {body}");

    // Another instance has another address; one without a database is unhealthy.
    let (other, other_ip) = launch(&sandbox, &shop, "").await;
    assert_ne!(ip, other_ip);
    let (status, body) = health_until(&other_ip, 503).await.expect("answers");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no DATABASE_URL"), "{body}");

    // The app goes with its instance's stop, comes back with its start, ends with it.
    let ec2 = sandbox.clients().await.ec2();
    ec2.stop_instances()
        .instance_ids(&id)
        .send()
        .await
        .expect("stop");
    assert!(
        get(&ip, "/health").await.is_err(),
        "a stopped instance serves nothing"
    );
    ec2.start_instances()
        .instance_ids(&id)
        .send()
        .await
        .expect("start");
    assert_eq!(health_until(&ip, 200).await.map(|a| a.0), Ok(200));
    ec2.terminate_instances()
        .instance_ids(&id)
        .instance_ids(&other)
        .send()
        .await
        .expect("terminate");
    assert!(get(&ip, "/health").await.is_err(), "terminated");
    assert!(get(&other_ip, "/health").await.is_err(), "terminated");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_that_serves_nothing_launches_as_before_and_apps_end_with_the_sandbox() {
    let sandbox = sandbox().await;
    let admin = image(&sandbox, "shop-admin-2026-11-22").await;
    let (_, ip) = launch(&sandbox, &admin, "").await;
    assert!(
        !ip.starts_with("127."),
        "moto's address for an instance that runs nothing: {ip}"
    );
    let shop = image(&sandbox, "shop-app-2026-11-20").await;
    let (_, ip) = launch(&sandbox, &shop, "").await;
    assert!(health_until(&ip, 503).await.is_ok(), "it runs");
    drop(sandbox);
    assert!(
        get(&ip, "/health").await.is_err(),
        "the app went with the sandbox"
    );
}
