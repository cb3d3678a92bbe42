//! Big playbooks: a 3,000-step chain compiles into the same model as a small one, and its
//! errors come in file order with their places.

use firedrill::language::diag::{Code, SourceFile};
use firedrill::playbook;

fn chain(steps: usize, broken: &[(usize, &str)]) -> String {
    let mut text =
        String::from("version: 1\nname: big\nsandbox: { accounts: [\"123456789012\"] }\nsteps:\n");
    for i in 0..steps {
        let extra = broken
            .iter()
            .find(|(at, _)| *at == i)
            .map_or("", |(_, line)| line);
        if i == 0 {
            text.push_str(&format!(
                "  s0:\n    uses: run\n    with: {{ command: \"true\", outputs: [v] }}\n{extra}"
            ));
        } else {
            text.push_str(&format!(
                "  s{i}:\n    uses: run\n    with: {{ command: \"echo ${{steps.s{}.outputs.v}}\", outputs: [v] }}\n{extra}",
                i - 1
            ));
        }
    }
    text
}

#[test]
fn a_big_playbook_compiles_like_a_small_one() {
    let file = SourceFile {
        name: "big.yaml".into(),
        text: chain(3000, &[]),
    };
    let loaded = playbook::compile(&file, "big.yaml".as_ref()).expect("valid");
    let pb = &loaded.playbook;
    assert_eq!(pb.steps.len(), 3000);
    assert_eq!(pb.steps[2999].id, "s2999");
    assert_eq!(pb.steps[2999].deps, vec![2998]);
    assert_eq!(pb.dag.waves().len(), 3000);
}

#[test]
fn errors_in_a_big_playbook_come_in_file_order_with_places() {
    let broken = [
        (2500, "    timout: 5m\n"),
        (1200, "    retry: { attempts: 0 }\n"),
        (2800, "    needs: [nowhere]\n"),
    ];
    let file = SourceFile {
        name: "big.yaml".into(),
        text: chain(3000, &broken),
    };
    let diags = playbook::compile(&file, "big.yaml".as_ref()).expect_err("invalid");
    let found: Vec<(Code, u32)> = diags
        .iter()
        .map(|d| (d.code, d.span.map_or(0, |s| s.line)))
        .collect();
    // Step i starts on line 5 + 3i, after the extra lines of the broken steps before it; a
    // broken step's extra line follows its `with`.
    let line = |step: usize| {
        let before = broken.iter().filter(|(at, _)| *at < step).count();
        u32::try_from(5 + 3 * step + before + 3).expect("small")
    };
    assert_eq!(
        found,
        [
            (Code::BadRetry, line(1200)),
            (Code::UnknownKey, line(2500)),
            (Code::UnknownNeed, line(2800))
        ]
    );
}
