//! Property tests of the dependency graph: waves respect every edge, and the critical path is a
//! real chain whose length is the longest path, computed here independently.

use firedrill::playbook::graph::Dag;
use proptest::prelude::*;

/// A random DAG: step `i` may depend on any step before it in a random permutation, which
/// keeps it acyclic while step numbers say nothing about the order.
fn dag_strategy() -> impl Strategy<Value = (Vec<Vec<usize>>, Vec<u64>)> {
    (1usize..40).prop_flat_map(|n| {
        (
            Just(n),
            Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
            proptest::collection::vec(
                proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
                n,
            ),
            proptest::collection::vec(0u64..10_000, n),
        )
            .prop_map(|(n, perm, picks, durations)| {
                let mut deps = vec![Vec::new(); n];
                for (pos, &step) in perm.iter().enumerate() {
                    if pos == 0 {
                        continue;
                    }
                    for pick in &picks[step] {
                        deps[step].push(perm[pick.index(pos)]);
                    }
                }
                (deps, durations)
            })
    })
}

/// The longest path ending at each step, by relaxing every edge n times (Bellman-Ford), with
/// no use of a topological order.
fn longest_finish(deps: &[Vec<usize>], durations: &[u64]) -> Vec<u64> {
    let n = deps.len();
    let mut finish: Vec<u64> = durations.to_vec();
    for _ in 0..n {
        for i in 0..n {
            for &d in &deps[i] {
                finish[i] = finish[i].max(finish[d] + durations[i]);
            }
        }
    }
    finish
}

proptest! {
    #[test]
    fn waves_respect_every_edge((deps, _) in dag_strategy()) {
        let dag = Dag::new(deps.clone()).expect("acyclic by construction");
        let waves = dag.waves();
        let mut wave_of = vec![usize::MAX; deps.len()];
        for (w, steps) in waves.iter().enumerate() {
            prop_assert!(!steps.is_empty(), "no empty wave");
            for &s in steps {
                prop_assert_eq!(wave_of[s], usize::MAX, "each step in one wave");
                wave_of[s] = w;
            }
        }
        for (i, ds) in deps.iter().enumerate() {
            prop_assert!(wave_of[i] != usize::MAX);
            for &d in ds {
                prop_assert!(wave_of[d] < wave_of[i], "{} waits for {}", i, d);
            }
            // Not later than it must be: one more than its latest dependency.
            let expected = ds.iter().map(|&d| wave_of[d] + 1).max().unwrap_or(0);
            prop_assert_eq!(wave_of[i], expected);
        }
    }

    #[test]
    fn critical_path_is_the_longest_chain((deps, durations) in dag_strategy()) {
        let dag = Dag::new(deps.clone()).expect("acyclic by construction");
        let schedule = dag.schedule(&durations);
        let path = schedule.critical_path();
        let longest = longest_finish(&deps, &durations).into_iter().max().unwrap_or(0);
        let length: u64 = path.iter().map(|&i| durations[i]).sum();
        prop_assert_eq!(length, longest);
        prop_assert_eq!(schedule.makespan(), longest);
        prop_assert!(path.first().is_some_and(|&s| deps[s].is_empty()), "the path starts at a step with no dependency");
        for pair in path.windows(2) {
            prop_assert!(deps[pair[1]].contains(&pair[0]), "{} -> {} is an edge", pair[0], pair[1]);
        }
    }

    #[test]
    fn any_back_edge_is_reported_as_a_cycle_through_it((deps, _) in dag_strategy(), a in any::<prop::sample::Index>()) {
        // Close a cycle: pick a step with a dependency and make that dependency wait for it.
        let with_deps: Vec<usize> = (0..deps.len()).filter(|&i| !deps[i].is_empty()).collect();
        prop_assume!(!with_deps.is_empty());
        let step = with_deps[a.index(with_deps.len())];
        let mut cyclic = deps.clone();
        let target = cyclic[step][0];
        cyclic[target].push(step);
        let cycles = Dag::new(cyclic.clone()).expect_err("a cycle");
        prop_assert!(!cycles.is_empty());
        for cycle in cycles {
            for (k, &s) in cycle.iter().enumerate() {
                let next = cycle[(k + 1) % cycle.len()];
                prop_assert!(cyclic[s].contains(&next), "{} depends on {}", s, next);
            }
        }
    }
}

/// A playbook of `wait` steps with the given dependencies, and which steps continue on failure.
fn playbook(deps: &[Vec<usize>], continues: &[bool]) -> firedrill::playbook::Playbook {
    let mut text =
        String::from("version: 1\nname: p\nsandbox: { accounts: [\"123456789012\"] }\nsteps:\n");
    for (i, ds) in deps.iter().enumerate() {
        let needs: Vec<String> = ds.iter().map(|d| format!("s{d}")).collect();
        let on_failure = if continues[i] { "continue" } else { "abort" };
        text.push_str(&format!(
            "  s{i}: {{ uses: wait, with: {{ duration: 1s }}, needs: [{}], on_failure: {on_failure} }}\n",
            needs.join(", ")
        ));
    }
    let file = firedrill::language::diag::SourceFile {
        name: "p.yaml".into(),
        text,
    };
    firedrill::playbook::compile(&file, "p.yaml".as_ref())
        .expect("valid")
        .playbook
}

proptest! {
    #[test]
    fn the_board_starts_steps_only_after_their_dependencies_and_always_finishes(
        (deps, _) in dag_strategy(),
        outcomes in proptest::collection::vec(any::<bool>(), 40),
        continues in proptest::collection::vec(any::<bool>(), 40),
    ) {
        use firedrill::engine::board::{Board, StepState};
        let pb = playbook(&deps, &continues);
        let mut board = Board::new(&pb);
        let mut succeeded = vec![false; deps.len()];
        // Run everything ready, one at a time, until nothing is left to start.
        while let Some(i) = board.start_next() {
            for &d in &deps[i] {
                prop_assert!(succeeded[d], "{} started before its dependency {} succeeded", i, d);
            }
            if outcomes[i] {
                board.succeeded(i);
                succeeded[i] = true;
            } else if board.failed(i, "failed", false) {
                for r in board.running().collect::<Vec<_>>() {
                    board.cancelled(r);
                }
            }
        }
        prop_assert!(board.is_done(), "every step ends in a final state: {:?}", board.states());
        for (i, state) in board.states().iter().enumerate() {
            if let StepState::Skipped { because } = state {
                let culprit: usize = because.trim_start_matches('s').parse().expect("a step id");
                prop_assert!(board.state(culprit).is_failure(), "{} skipped because of {}, which did not fail", i, culprit);
            }
            if *state == StepState::Succeeded {
                prop_assert!(outcomes[i]);
            }
        }
    }
}
