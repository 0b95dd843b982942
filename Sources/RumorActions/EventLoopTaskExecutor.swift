import NIOCore

/// Runs Swift tasks on one NIO event loop. The agent runs its actions' tasks on its own loop: their work is small
/// (a few engine requests, a file read a second) and without this Swift's cooperative pool would start a thread per
/// core for it, each with its own stack and malloc arena (measured: two threads, most of the container action's
/// idle memory). Whatever runs here must not block, as everything else on the loop.
public final class EventLoopTaskExecutor: TaskExecutor {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
