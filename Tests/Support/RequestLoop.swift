import Foundation
import Synchronization

/// Sends requests one after another through the load balancer on a dedicated thread until stopped, recording
/// when each started and who served it (or how it failed). Stands in for a client that must never see an error.
package final class RequestLoop: Sendable {
    package struct Outcome: Sendable {
        package var started: ContinuousClock.Instant
        package var servedBy: String?
        package var failure: String?
    }

    private let outcomes = Mutex<[Outcome]>([])
    private let stopFlag = Atomic<Bool>(false)
    private let finished = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let done = Atomic<Bool>(false)

    /// Starts the loop on its own thread; returns at once. `pause` is the wait between requests.
    package init(host: String, port: Int, pause: Duration = .zero) {
        Thread.detachNewThread { [self] in
            while !stopFlag.load(ordering: .relaxed) {
                let started = ContinuousClock.now
                var outcome = Outcome(started: started)
                do {
                    let response = try TestNetwork.get(host: host, port: port)
                    if response.status == 200 {
                        outcome.servedBy = response.body
                    } else {
                        outcome.failure = "HTTP \(response.status): \(response.body.prefix(100))"
                    }
                } catch {
                    outcome.failure = "\(error)"
                }
                outcomes.withLock { $0.append(outcome) }
                if pause > .zero { Thread.sleep(forTimeInterval: pause.ms / 1000) }
            }
            done.store(true, ordering: .releasing)
            finished.withLock { c in
                c?.resume()
                c = nil
            }
        }
    }

    package var snapshot: [Outcome] { outcomes.withLock { $0 } }
    package var count: Int { outcomes.withLock { $0.count } }

    /// Asks the loop to stop without waiting (for a `defer`); `stop()` also waits for it.
    package func halt() { stopFlag.store(true, ordering: .relaxed) }

    /// Stops the loop and returns everything it recorded.
    package func stop() async -> [Outcome] {
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
    package func waitForRequests(_ n: Int, timeout: Duration = .seconds(10)) async throws {
        let target = count + n
        try await eventually("\(n) more requests", timeout: timeout) { count >= target }
    }
}
