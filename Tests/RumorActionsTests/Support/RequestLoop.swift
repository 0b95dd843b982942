import Foundation
import Synchronization

/// Sends requests one after another through the load balancer on a dedicated thread until stopped, recording
/// when each started and who served it (or how it failed). Stands in for a client that must never see an error.
final class RequestLoop: Sendable {
    struct Outcome: Sendable {
        var started: ContinuousClock.Instant
        var servedBy: String?
        var failure: String?
    }

    private let outcomes = Mutex<[Outcome]>([])
    private let stopFlag = Atomic<Bool>(false)
    private let finished = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let done = Atomic<Bool>(false)

    /// Starts the loop on its own thread; returns at once.
    init(host: String, port: Int) {
        Thread.detachNewThread { [self] in
            while !stopFlag.load(ordering: .relaxed) {
                let started = ContinuousClock.now
                var outcome = Outcome(started: started)
                do {
                    let response = try TestNetwork.get(host: host, port: port)
                    if response.status == 200 {
                        outcome.servedBy = response.body
                    } else {
                        outcome.failure = "HTTP \(response.status)"
                    }
                } catch {
                    outcome.failure = "\(error)"
                }
                outcomes.withLock { $0.append(outcome) }
            }
            done.store(true, ordering: .releasing)
            finished.withLock { c in
                c?.resume()
                c = nil
            }
        }
    }

    var snapshot: [Outcome] { outcomes.withLock { $0 } }
    var count: Int { outcomes.withLock { $0.count } }

    /// Stops the loop and returns everything it recorded.
    func stop() async -> [Outcome] {
        stopFlag.store(true, ordering: .relaxed)
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = finished.withLock { stored -> Bool in
                if done.load(ordering: .acquiring) { return true }
                stored = c
                return false
            }
            if resumeNow { c.resume() }
        }
        return snapshot
    }

    /// Waits until at least `n` more requests completed (so a phase of a test really saw traffic).
    func waitForRequests(_ n: Int, timeout: Duration = .seconds(10)) async throws {
        let target = count + n
        try await eventually("\(n) more requests", timeout: timeout) { count >= target }
    }
}
