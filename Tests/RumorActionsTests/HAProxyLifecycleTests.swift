import Foundation
import RumorCore
import Testing
@testable import RumorActions
import RumorTestSupport

/// `reload()` and `stop()`, the calls the agent makes on SIGHUP and at shutdown, against a real HAProxy.
/// In HAProxyLiveTests' serialized suite, so they do not compete with its latency measurements.
extension HAProxyLiveTests {
    @Test func reloadRendersAgainWithoutAMemberChange() async throws {
        try await LoadBalancer.with(subnet: 75) { lb in
            let web1 = try await lb.startBackend("web-1", index: 1)
            lb.publish([web1.member()])
            try await lb.waitUntilApplied()
            let before = lb.action.statistics
            lb.action.reload()
            // The builtin template did not change, so the render is the same: counted as unchanged, nothing reloaded.
            try await eventually("rendered again", timeout: .seconds(5)) {
                lb.action.statistics.unchanged == before.unchanged + 1
            }
            #expect(lb.action.statistics.applies == before.applies + 1)
            #expect(lb.action.statistics.reloads == before.reloads)
            #expect(try await lb.servedBy() == "web-1")
        }
    }

    @Test func stopEndsRunAndStopsTheHAProxyItStarted() async throws {
        try await LoadBalancer.with(subnet: 76) { lb in
            let web1 = try await lb.startBackend("web-1", index: 1)
            lb.publish([web1.member()])
            try await lb.waitUntilApplied()
            let master = try await lb.processList().masterPID
            lb.action.stop()
            // run() stops HAProxy (and reaps it) before it returns.
            try await eventually("HAProxy \(master) gone", timeout: .seconds(15)) { kill(master, 0) != 0 }
            lb.publish([web1.member()])  // after stop: accepted, never applied
            #expect(lb.action.statistics.starts == 1)
        }
    }
}
