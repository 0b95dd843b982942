import Logging
import NIOCore
import RumorApps
import RumorCore
import RumorRuntime
import RumorSupport
import RumorWire

/// The agent's side of rolling deploys: it feeds ``AppsCoordinator`` (where every decision lives) with the records,
/// the members and the time, and carries out what it returns: tell the container action what to run, submit
/// rollbacks, log rollout changes.
extension Agent {
    /// The agent's monotonic clock (the coalescers' too), the time the coordinator is fed.
    var rolloutNow: Duration { .nanoseconds(DeadlineTimer.now.nanoseconds) }

    /// Steps the rollouts under way again: on member events and every second (monitor periods and deadlines end
    /// with no event). App changes call `updateRollouts` themselves.
    func followRollouts() {
        if coordinator.isRollingOut { updateRollouts() }
    }

    func updateRollouts() {
        let out = coordinator.step(records: runtime.withInstance { $0.appRecords }, members: coordinatorMembers(), now: rolloutNow)
        for change in out.changes { logRollout(change.app, change.status, generation: change.generation) }
        for r in out.rollbacks {
            runtime.submit(.deployApp(name: r.app, spec: r.spec, rollback: r.reason,
                                      authority: AppAuthority(serial: r.serial, signer: r.signer, signature: r.signature)))
        }
        if out.toRun != appsToRun {
            appsToRun = out.toRun
            for listener in appListeners { listener() }
        }
    }

    func coordinatorMembers() -> [AppsCoordinator.Member] {
        members().map { AppsCoordinator.Member(name: $0.name, isAlive: $0.status == .alive, tags: $0.tags) }
    }

    /// The rollout's state for `rumor apps status` and `deploy --wait`; `members` when the caller has them already
    /// (one list for every app of a scrape).
    func rolloutJSON(_ record: AppRecord, members: [AppsCoordinator.Member]? = nil) -> JSON {
        coordinator.status(of: record, members: members ?? coordinatorMembers())
    }

    private func logRollout(_ app: String, _ status: Rollout.Status, generation: Int) {
        switch status {
        case .progressing(let wave, let of): logger.info("apps: \(app): rolling out generation \(generation): wave \(wave) of \(of)")
        case .done: logger.info("apps: \(app): generation \(generation) runs on every node")
        case .rollingBack(let reason): logger.warning("apps: \(app): rolling back generation \(generation): \(reason)")
        case .paused(let reason): logger.warning("apps: \(app): rollout of generation \(generation) paused: \(reason)")
        }
    }
}
