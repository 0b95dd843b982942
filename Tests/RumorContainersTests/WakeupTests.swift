import Testing
@testable import RumorContainers

@Suite struct WakeupTests {
    /// A wait that ended by a signal must not leave its timer to wake the next wait early (a spinning loop).
    @Test func aSignalledWaitDoesNotShortenTheNext() async {
        let wakeup = Wakeup()
        wakeup.signal()
        await wakeup.wait(timeout: .seconds(5))  // returns at once: the signal was pending
        let start = ContinuousClock.now
        await wakeup.wait(timeout: .milliseconds(300))
        #expect(ContinuousClock.now - start >= .milliseconds(250))
    }

    @Test func aSignalEndsAWait() async {
        let wakeup = Wakeup()
        let start = ContinuousClock.now
        Task {
            try? await Task.sleep(for: .milliseconds(50))
            wakeup.signal()
        }
        await wakeup.wait(timeout: .seconds(10))
        #expect(ContinuousClock.now - start < .seconds(5))
    }
}
