import RumorCore
import RumorWire
import Testing

@testable import RumorAgent

/// The snapshot's rules on the pure parts (format, recorder, compaction): no files, no timers.
@Suite struct SnapshotRulesTests {
    static func member(_ name: String, _ last: UInt8, port: UInt16 = 7946) -> Member {
        Member(
            name: name, address: Address(ip: [10, 0, 0, last], port: port), tags: [:], status: .alive,
            vsn: [1, 5, 5, 2, 5, 5])
    }

    static func userEvent(_ ltime: UInt64) -> Event {
        .userEvent(UserEvent(ltime: ltime, name: "e", payload: [], coalesce: true))
    }

    // MARK: Format

    @Test func everyRecordReadsBackFromTheLineItWrites() {
        let records: [SnapshotRecord] = [
            .alive(name: "node one", address: "[::1]:7946"), .notAlive(name: "b"), .clock(.max), .eventClock(0),
            .queryClock(7), .leave,
        ]
        for record in records {
            let line = record.line
            #expect(line.hasSuffix("\n"))
            #expect(SnapshotFormat.parse(Substring(line.dropLast())) == .record(record), "\(line)")
        }
    }

    @Test func aliveTakesTheAddressAfterTheLastSpace() {
        #expect(SnapshotFormat.parse("alive: a b  c 10.0.0.1:1") == .record(.alive(name: "a b  c", address: "10.0.0.1:1")))
        guard case .malformed(let warning) = SnapshotFormat.parse("alive: nospace") else {
            Issue.record("an alive line without an address must be malformed")
            return
        }
        #expect(warning.contains("alive: nospace"))
    }

    @Test func clockNumbersAreDigitsOnlyAndFitIn64Bits() {
        for bad in ["clock: +1", "clock: -1", "event-clock: 18446744073709551616", "query-clock: ", "clock: 1 "] {
            guard case .malformed = SnapshotFormat.parse(Substring(bad)) else {
                Issue.record("\"\(bad)\" must be malformed")
                continue
            }
        }
    }

    @Test func commentsAndCoordinatesAreIgnored() {
        #expect(SnapshotFormat.parse("# note") == .ignored)
        #expect(SnapshotFormat.parse("coordinate: {}") == .ignored)
    }

    // MARK: Recorder

    @Test func aJoinIsRecordedAsAliveWithTheAddressAsGoWritesIt() {
        var recorder = SnapshotRecorder(rejoinAfterLeave: false)
        let record = recorder.record(.memberJoined(Self.member("a", 1)))
        #expect(record == .alive(name: "a", address: "10.0.0.1:7946"))
        #expect(record?.changesMembers == true)
        #expect(recorder.alive.nodes == [SnapshotNode(name: "a", address: "10.0.0.1:7946")])
    }

    @Test func aLeaveOrFailureIsRecordedAsNotAlive() {
        var recorder = SnapshotRecorder(rejoinAfterLeave: false)
        _ = recorder.record(.memberJoined(Self.member("a", 1)))
        _ = recorder.record(.memberJoined(Self.member("b", 2)))
        let left = recorder.record(.memberLeft(Self.member("a", 1)))
        let failed = recorder.record(.memberFailed(Self.member("b", 2)))
        #expect(left == .notAlive(name: "a"))
        #expect(failed == .notAlive(name: "b"))
        #expect(recorder.alive.count == 0)
    }

    @Test func updatesAndReapsAreNotRecorded() {
        var recorder = SnapshotRecorder(rejoinAfterLeave: false)
        let updated = recorder.record(.memberUpdated(Self.member("a", 1)))
        let reaped = recorder.record(.memberReaped(Self.member("a", 1)))
        #expect(updated == nil)
        #expect(reaped == nil)
    }

    @Test func clocksAreRecordedOnlyWhenTheyGrow() {
        var recorder = SnapshotRecorder(rejoinAfterLeave: false)
        let first = recorder.record(Self.userEvent(4))
        let older = recorder.record(Self.userEvent(2))
        let same = recorder.record(Self.userEvent(4))
        #expect(first == .eventClock(4))
        #expect(older == nil)
        #expect(same == nil)
        let query = recorder.query(ltime: 9)
        let queryAgain = recorder.query(ltime: 9)
        #expect(query == .queryClock(9))
        #expect(queryAgain == nil)
    }

    @Test func theMemberClockRecordedIsOneLessThanTheCoreTime() {
        var recorder = SnapshotRecorder(rejoinAfterLeave: false)
        let zero = recorder.memberClock(0)
        let one = recorder.memberClock(1)  // 0 seen: not more than the initial 0
        let five = recorder.memberClock(5)
        let back = recorder.memberClock(3)
        #expect(zero == nil)
        #expect(one == nil)
        #expect(five == .clock(4))
        #expect(back == nil)
    }

    @Test func afterALeaveOnlyTheMemberClockIsRecorded() {
        var recorder = SnapshotRecorder(rejoinAfterLeave: false)
        _ = recorder.record(.memberJoined(Self.member("a", 1)))
        #expect(recorder.leave() == .leave)
        let join = recorder.record(.memberJoined(Self.member("b", 2)))
        let event = recorder.record(Self.userEvent(3))
        let query = recorder.query(ltime: 3)
        let clock = recorder.memberClock(8)
        #expect(join == nil)
        #expect(event == nil)
        #expect(query == nil)
        #expect(clock == .clock(7))
    }

    @Test func aLeaveForgetsTheAliveSetUnlessRejoiningAfterALeave() {
        for rejoin in [false, true] {
            var recorder = SnapshotRecorder(rejoinAfterLeave: rejoin)
            _ = recorder.record(.memberJoined(Self.member("a", 1)))
            _ = recorder.leave()
            #expect(recorder.alive.count == (rejoin ? 1 : 0))
        }
    }

    @Test func aRecorderContinuesFromTheReplayedState() {
        let replayed = SnapshotState(
            alive: [SnapshotNode(name: "a", address: "10.0.0.1:7946")], memberClock: 5, eventClock: 3, queryClock: 2)
        var recorder = SnapshotRecorder(initial: replayed, rejoinAfterLeave: false)
        let event = recorder.record(Self.userEvent(3))
        let clock = recorder.memberClock(6)
        let query = recorder.query(ltime: 3)
        #expect(event == nil)
        #expect(clock == nil)
        #expect(query == .queryClock(3))
        #expect(recorder.alive.nodes == replayed.alive)
    }

    // MARK: Compaction

    @Test func compactionIsDueAboveTwice128BytesPerAliveNodeAndTheMinimum() {
        let compaction = SnapshotCompaction(minimumSize: 1000)
        #expect(!compaction.isDue(size: 1000, aliveNodes: 3))
        #expect(compaction.isDue(size: 1001, aliveNodes: 3))
        #expect(compaction.maxSize(aliveNodes: 10) == 10 * 128 * 2)
        #expect(!compaction.isDue(size: 2560, aliveNodes: 10))
        #expect(compaction.isDue(size: 2561, aliveNodes: 10))
    }

    @Test func aCompactedFileIsTheAliveLinesThenTheThreeClocksAndReplaysTheSame() {
        var recorder = SnapshotRecorder(rejoinAfterLeave: false)
        _ = recorder.record(.memberJoined(Self.member("a", 1)))
        _ = recorder.record(.memberJoined(Self.member("gone", 9)))
        _ = recorder.record(.memberJoined(Self.member("b", 2)))
        _ = recorder.record(.memberFailed(Self.member("gone", 9)))
        _ = recorder.memberClock(6)
        _ = recorder.record(Self.userEvent(4))
        let bytes = SnapshotCompaction.content(of: recorder)
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == "alive: a 10.0.0.1:7946\nalive: b 10.0.0.2:7946\nclock: 5\nevent-clock: 4\nquery-clock: 0\n")
        #expect(
            SnapshotFormat.replay(bytes, rejoinAfterLeave: false)
                == SnapshotState(alive: recorder.alive.nodes, memberClock: 5, eventClock: 4, queryClock: 0))
    }

    @Test func afterAWriteErrorRecoveryIsTriedAtMostEvery30s() {
        var compaction = SnapshotCompaction(minimumSize: 0)
        let t0 = ContinuousClock.now
        let first = compaction.shouldRecover(at: t0)
        let soon = compaction.shouldRecover(at: t0 + .seconds(29))
        let later = compaction.shouldRecover(at: t0 + .seconds(30))
        let again = compaction.shouldRecover(at: t0 + .seconds(31))
        #expect(first)
        #expect(!soon)
        #expect(later)
        #expect(!again)
    }
}
