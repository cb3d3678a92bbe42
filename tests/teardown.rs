//! The safety rules of teardown against the local sandbox: it deletes only what the journal
//! says the run created *and* the tags confirm, and it finds (or proves absent) a resource
//! whose create call was made but never confirmed.

mod support;

use firedrill::engine::report::TeardownState as State;
use firedrill::engine::teardown::{self, Graph};
use firedrill::sandbox::ProxyConfig;
use firedrill::steps::resource::{TAG_RUN, TAG_TOKEN};
use firedrill::store::journal::{Journal, NewRun, ResourceStatus};
use firedrill::store::recorder::Recorder;
use support::sandbox::TestSandbox;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};

const RUN: &str = "20261125-120000-0000abcd";

async fn launch(sandbox: &TestSandbox, tags: &[(&str, &str)]) -> String {
    let ec2 = sandbox.clients().await.ec2();
    let image = ec2
        .describe_images()
        .send()
        .await
        .expect("images")
        .images()
        .iter()
        .find_map(|i| i.image_id().map(str::to_owned))
        .expect("moto ships images");
    let mut request = ec2
        .run_instances()
        .image_id(image)
        .min_count(1)
        .max_count(1);
    if !tags.is_empty() {
        request = request.tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                        .collect(),
                ))
                .build(),
        );
    }
    request
        .send()
        .await
        .expect("launch")
        .instances()
        .first()
        .and_then(|i| i.instance_id())
        .expect("an instance")
        .to_owned()
}

async fn journal() -> (tempfile::TempDir, Recorder) {
    let dir = tempfile::tempdir().expect("state");
    let recorder = Recorder::start(Journal::open(dir.path()).expect("journal"));
    recorder
        .call(|j| {
            j.begin_run(&NewRun {
                id: RUN,
                ..NewRun::default()
            })
        })
        .await
        .expect("run");
    (dir, recorder)
}

async fn tear_down(sandbox: &TestSandbox, recorder: &Recorder) -> teardown::Outcome {
    let (_keep, mut signals) = tokio::sync::mpsc::unbounded_channel();
    teardown::run(
        Some(&sandbox.clients().await),
        recorder,
        RUN,
        &Graph::new(),
        teardown::Options {
            deadline: std::time::Duration::from_mins(1),
            poll: std::time::Duration::from_millis(50),
            signalled: false,
        },
        &mut signals,
        &mut |_| {},
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_never_deletes_what_the_tags_do_not_confirm() {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.0,
        ..ProxyConfig::default()
    })
    .await;
    // A pre-existing instance, and one of another run, both wrongly in this run's journal
    // (a corrupted journal, a hand edit, a bug): neither may be touched.
    let production = launch(&sandbox, &[]).await;
    let other_run = launch(&sandbox, &[(TAG_RUN, "20260101-000000-ffffffff")]).await;
    let ours = launch(&sandbox, &[(TAG_RUN, RUN)]).await;
    let (_dir, recorder) = journal().await;
    for (token, id) in [("t1", &production), ("t2", &other_run), ("t3", &ours)] {
        let id = id.clone();
        recorder
            .call(move |j| {
                let row = j.intend(RUN, "app", "ec2-instance", token, "us-east-1")?;
                j.created(row, &id)
            })
            .await
            .expect("journaled");
    }
    let outcome = tear_down(&sandbox, &recorder).await;
    assert_eq!(outcome.state, State::Incomplete, "refusals are loud");
    assert_eq!(outcome.settled, 1);
    let reasons: Vec<(String, String)> = outcome
        .left
        .iter()
        .map(|l| {
            (
                l.resource.resource_id.clone().unwrap_or_default(),
                l.reason.clone(),
            )
        })
        .collect();
    assert!(
        reasons
            .iter()
            .any(|(id, why)| id == &production && why.contains("no firedrill run tag")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(id, why)| id == &other_run && why.contains("20260101-000000-ffffffff")),
        "{reasons:?}"
    );
    assert_eq!(sandbox.instance_state(&production).await, "running");
    assert_eq!(sandbox.instance_state(&other_run).await, "running");
    assert_eq!(sandbox.instance_state(&ours).await, "terminated");
    let rows = recorder
        .call(|j| j.resources(RUN))
        .await
        .expect("resources");
    let status = |id: &str| {
        rows.iter()
            .find(|r| r.resource_id.as_deref() == Some(id))
            .map(|r| r.status)
    };
    assert_eq!(status(&production), Some(ResourceStatus::Failed));
    assert_eq!(status(&ours), Some(ResourceStatus::Deleted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_create_is_found_by_its_token_or_proved_absent() {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.0,
        ..ProxyConfig::default()
    })
    .await;
    let (_dir, recorder) = journal().await;
    // A crash between the create call and its answer: the intent is journaled, the instance
    // exists, its id never reached the journal.
    let token = "fd-20261125120000-0000abcd-app-1";
    recorder
        .call(move |j| j.intend(RUN, "app", "ec2-instance", token, "us-east-1"))
        .await
        .expect("intent");
    let made = launch(&sandbox, &[(TAG_RUN, RUN), (TAG_TOKEN, token)]).await;
    // And a crash before the call: the intent alone.
    recorder
        .call(|j| {
            j.intend(
                RUN,
                "db",
                "ec2-instance",
                "fd-20261125120000-0000abcd-db-1",
                "us-east-1",
            )
        })
        .await
        .expect("intent");

    let outcome = tear_down(&sandbox, &recorder).await;
    assert_eq!(outcome.state, State::Done, "{:?}", outcome.left);
    assert_eq!(outcome.settled, 2);
    assert_eq!(sandbox.instance_state(&made).await, "terminated");
    let rows = recorder
        .call(|j| j.resources(RUN))
        .await
        .expect("resources");
    assert_eq!(rows[0].resource_id.as_deref(), Some(made.as_str()));
    assert_eq!(rows[0].status, ResourceStatus::Deleted);
    assert_eq!(rows[1].status, ResourceStatus::Deleted);
    assert!(rows[1].detail.contains("never created"), "{:?}", rows[1]);
}

/// Journals an intent of `kind` with `token` for step `step`.
async fn intend(recorder: &Recorder, step: &'static str, kind: &'static str, token: &'static str) {
    recorder
        .call(move |j| j.intend(RUN, step, kind, token, "us-east-1"))
        .await
        .expect("intent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_restores_volumes_and_stacks_are_found_by_their_tokens_and_deleted() {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.0,
        ..ProxyConfig::default()
    })
    .await;
    let clients = sandbox.clients().await;
    let (_dir, recorder) = journal().await;
    // Each create call went through, and the run died before its answer was journaled.
    let (db, stack, volume_token) = (
        "fd-20261125120000-0000abcd-db-1",
        "fd-20261125120000-0000abcd-net-1",
        "fd-20261125120000-0000abcd-data-1",
    );
    intend(&recorder, "db", "rds-instance", db).await;
    intend(&recorder, "net", "cloudformation-stack", stack).await;
    intend(&recorder, "data", "ec2-volume", volume_token).await;
    // And one whose call never went out.
    intend(
        &recorder,
        "db2",
        "rds-instance",
        "fd-20261125120000-0000abcd-db2-1",
    )
    .await;
    let rds_tags = [(TAG_RUN, RUN), (TAG_TOKEN, db)]
        .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build());
    clients
        .rds()
        .create_db_instance()
        .db_instance_identifier(db)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .set_tags(Some(rds_tags.to_vec()))
        .send()
        .await
        .expect("db");
    clients
        .cloudformation()
        .create_stack()
        .stack_name(stack)
        .template_body("Resources:\n  Vpc:\n    Type: AWS::EC2::VPC\n    Properties: { CidrBlock: 10.1.0.0/16 }\n")
        .tags(aws_sdk_cloudformation::types::Tag::builder().key(TAG_RUN).value(RUN).build())
        .tags(aws_sdk_cloudformation::types::Tag::builder().key(TAG_TOKEN).value(stack).build())
        .send()
        .await
        .expect("stack");
    let volume = clients
        .ec2()
        .create_volume()
        .availability_zone("us-east-1a")
        .size(8)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Volume)
                .tags(Tag::builder().key(TAG_RUN).value(RUN).build())
                .tags(Tag::builder().key(TAG_TOKEN).value(volume_token).build())
                .build(),
        )
        .send()
        .await
        .expect("volume")
        .volume_id()
        .expect("an id")
        .to_owned();

    let outcome = tear_down(&sandbox, &recorder).await;
    assert_eq!(outcome.state, State::Done, "{:?}", outcome.left);
    assert_eq!(outcome.settled, 4);
    let rows = recorder
        .call(|j| j.resources(RUN))
        .await
        .expect("resources");
    assert!(
        rows.iter().all(|r| r.status == ResourceStatus::Deleted),
        "{rows:#?}"
    );
    assert_eq!(rows[2].resource_id.as_deref(), Some(volume.as_str()));
    assert!(rows[3].detail.contains("never created"), "{:?}", rows[3]);
    assert!(
        sandbox.drill_leftovers().await.is_empty(),
        "{:?}",
        sandbox.drill_leftovers().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_the_same_name_without_the_run_tag_is_never_deleted() {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.0,
        ..ProxyConfig::default()
    })
    .await;
    let (_dir, recorder) = journal().await;
    // The journal names a database this run did not create (a tampered or mistaken row).
    let name = "orders-prod";
    intend(&recorder, "db", "rds-instance", name).await;
    let row = recorder
        .call(|j| j.resources(RUN))
        .await
        .expect("resources")[0]
        .id;
    recorder
        .call(move |j| j.created(row, name))
        .await
        .expect("created");
    sandbox
        .clients()
        .await
        .rds()
        .create_db_instance()
        .db_instance_identifier(name)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .send()
        .await
        .expect("db");
    let outcome = tear_down(&sandbox, &recorder).await;
    assert_eq!(outcome.state, State::Incomplete);
    assert!(
        outcome.left[0].reason.contains("no firedrill run tag"),
        "{:?}",
        outcome.left
    );
    let still = sandbox
        .clients()
        .await
        .rds()
        .describe_db_instances()
        .db_instance_identifier(name)
        .send()
        .await
        .expect("still there");
    assert_eq!(
        still.db_instances()[0].db_instance_status(),
        Some("available")
    );
}
