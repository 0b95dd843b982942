import Foundation
import NIOPosix
import Testing
@testable import RumorContainers

@Suite struct WakeupTests {
    /// A wait that ended by a signal must not leave its timer to wake the next wait early (a spinning loop).
    @Test func aSignalledWaitDoesNotShortenTheNext() async {
        let wakeup = Wakeup(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        wakeup.signal()
        await wakeup.wait(timeout: .seconds(5))  // returns at once: the signal was pending
        let start = ContinuousClock.now
        await wakeup.wait(timeout: .milliseconds(300))
        #expect(ContinuousClock.now - start >= .milliseconds(250))
    }

    /// Signalled from a plain thread: the suite shares the cooperative pool with tests that block it for seconds.
    @Test func aSignalEndsAWait() async {
        let wakeup = Wakeup(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        let start = ContinuousClock.now
        Thread.detachNewThread {
            usleep(50_000)
            wakeup.signal()
        }
        await wakeup.wait(timeout: .seconds(120))
        #expect(ContinuousClock.now - start < .seconds(60))
    }
}
