import Foundation
import RumorCore
import Synchronization
import Testing
@testable import RumorActions
import RumorTestSupport

/// Steady wrk load while 10 backends join one by one, then leave one by one (drain, process stops, left):
/// the docker-compose scale-up/scale-down scenario. Part of the serialized live suite.
extension HAProxyLiveTests {
    struct ScalingRun: Sendable {
        var wrk: WrkResult
        var reloads: Int
        var runtimeApplies: Int
    }

    static func scaleUpAndDownUnderLoad(mode: HAProxyApplyMode, subnet: Int) async throws -> ScalingRun {
        let run = Mutex<ScalingRun?>(nil)
        // 16 slots (the default) hold all 13 backends: in runtime mode no change needs a reload.
        try await LoadBalancer.with(subnet: subnet, configure: {
            $0.apply = mode
            $0.slots = 16
        }) { lb in
            var base: [TestBackendServer] = []
            for i in 1...3 { base.append(try await lb.startBackend("base-\(i)", index: i)) }
            var extra: [TestBackendServer] = []
            for i in 1...10 { extra.append(try await lb.startBackend("extra-\(i)", index: 10 + i)) }
            lb.publish(base.map { $0.member() })
            try await lb.waitUntilApplied()
            let before = lb.action.statistics

            // 16 connections, each pausing 10 ms between requests: ~1000 req/s at most, steady.
            let wrk = try WrkRun(
                url: "http://\(lb.host):\(lb.port)/", connections: 16, threads: 2, duration: .seconds(22),
                delayMilliseconds: 10, directory: lb.directory)

            /// Publishes, waits until applied, then lets the rest of `step` pass: the schedule of the scenario
            /// (the wait inside is the synchronisation; the pause only paces the changes).
            func step(_ members: [Member], pace: Duration) async throws {
                let start = ContinuousClock.now
                lb.publish(members)
                try await lb.waitUntilApplied()
                let rest = pace - (ContinuousClock.now - start)
                if rest > .zero { try await Task.sleep(for: rest) }
            }

            try await Task.sleep(for: .seconds(1))  // wrk's warm-up before the first change
            var current = base.map { $0.member() }
            for server in extra {
                current.append(server.member())
                try await step(current, pace: .milliseconds(800))
            }
            for server in extra {
                // docker stop: the agent leaves (drain), the app keeps serving a moment, exits, the member has left.
                current = current.map { $0.name == server.name ? server.member(status: .leaving) : $0 }
                try await step(current, pace: .milliseconds(300))
                server.kill()
                current.removeAll { $0.name == server.name }
                try await step(current, pace: .milliseconds(500))
            }
            let result = try await wrk.finish()
            let after = lb.action.statistics
            run.withLock {
                $0 = ScalingRun(
                    wrk: result, reloads: after.reloads - before.reloads,
                    runtimeApplies: after.runtimeApplies - before.runtimeApplies)
            }
        }
        return try #require(run.withLock { $0 })
    }

    @Test(.enabled(if: WrkResult.wrkBinary != nil, "wrk is not installed"))
    func scalingUnderLoadFailsNoRequestInRuntimeMode() async throws {
        let run = try await Self.scaleUpAndDownUnderLoad(mode: .runtime, subnet: 70)
        print("wrk, runtime mode, 10 backends added and removed: \(run.wrk); "
            + "reloads \(run.reloads), runtime updates \(run.runtimeApplies)")
        #expect(run.wrk.requestsPerSecond >= 300, "\(run.wrk.raw)")
        #expect(run.wrk.socketErrors == 0, "\(run.wrk.raw)")
        #expect(run.wrk.non2xx == 0, "\(run.wrk.raw)")
        #expect(run.reloads == 0)
        #expect(run.runtimeApplies >= 30)
    }

    @Test(.enabled(if: WrkResult.wrkBinary != nil, "wrk is not installed"))
    func scalingUnderLoadInReloadMode() async throws {
        let run = try await Self.scaleUpAndDownUnderLoad(mode: .reload, subnet: 71)
        print("wrk, reload mode, 10 backends added and removed: \(run.wrk); reloads \(run.reloads)")
        #expect(run.wrk.requestsPerSecond >= 300, "\(run.wrk.raw)")
        #expect(run.reloads >= 30)
        #expect(run.wrk.failed == 0, "\(run.wrk.raw)")
    }
}
