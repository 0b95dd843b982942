import Logging
import NIOCore
import RumorCore
import RumorRuntime

extension Agent {
    func openSnapshot() throws {
        guard let path = configuration.snapshotPath else { return }
        let writer = try Snapshotter(
            path: path, eventLoop: eventLoop, logger: logger, initial: remembered,
            rejoinAfterLeave: configuration.rejoinAfterLeave)
        writer.memberClockSource = { [weak self] in self?.runtime.withInstance { $0.clock.time } ?? 0 }
        snapshotter = writer
    }

    /// Serf's rejoin: try the nodes the snapshot remembers, in random order, one at a time, until one answers.
    /// Runs whether or not `--join` was given (as serf does) and never fails start-up.
    public func rejoinFromSnapshot() {
        let candidates = remembered.alive.filter { $0.name != name }.shuffled()
        guard !candidates.isEmpty else { return }
        eventLoop.execute { self.rejoin(candidates[...]) }
    }

    private func rejoin(_ candidates: ArraySlice<SnapshotNode>) {
        guard let node = candidates.first else {
            return logger.warning("serf: Failed to re-join any previously known node")
        }
        logger.info("serf: Attempting re-join to previously known node: \(node.name): \(node.address)")
        join([node.address], replay: false).whenComplete { [self] result in
            if case .success(let r) = result, r.joined > 0 {
                logger.info("serf: Re-joined to previously known node: \(node.name): \(node.address)")
            } else {
                rejoin(candidates.dropFirst())
            }
        }
    }
}
