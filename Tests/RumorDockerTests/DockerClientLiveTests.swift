import NIOPosix
import RumorDocker
import RumorSupport
import RumorTestSupport
import Testing

/// Against the real engine `.ci/run` starts, with the locally built rumor-site image.
@Suite(.serialized) struct DockerClientLiveTests {
    static let label = "io.rumor.test=docker-client"

    func client() async throws -> DockerClient {
        try await DockerClient.connect(socketPath: try DockerClient.environmentSocketPath(), group: MultiThreadedEventLoopGroup.singleton)
    }

    @Test func negotiatesAVersionTheEngineSpeaks() async throws {
        let docker = try await client()
        let parts = docker.apiVersion.split(separator: ".").compactMap { Int($0) }
        #expect(parts.count == 2 && parts[0] == 1 && parts[1] >= 41 && parts[1] <= 47)
    }

    @Test func createStartInspectListStopRemove() async throws {
        let docker = try await client()
        var config = ContainerConfig(image: "rumor-site:v1")
        config.labels = ["io.rumor.test": "docker-client", "k": "v"]
        config.env = ["VERSION": "test"]
        let id = try await docker.create(name: "rumor-test-client-\(UInt32.random(in: 0...UInt32.max))", config)
        defer { Task { try? await docker.remove(id) } }
        try await docker.start(id)
        let details = try await docker.inspect(id)
        // Podman names a local image under localhost/.
        #expect(details.running && details.labels["k"] == "v" && ["rumor-site:v1", "localhost/rumor-site:v1"].contains(details.image))
        let listed = try await docker.listContainers(labels: [Self.label])
        #expect(listed.map(\.id).contains(id))
        #expect(try await docker.listContainers(labels: ["io.rumor.test=nothing-has-this"]).isEmpty)
        try await docker.stop(id, grace: .seconds(1))
        #expect(try await docker.inspect(id).running == false)
        try await docker.remove(id)
        try await docker.remove(id)  // absent: no error
        await #expect(throws: DockerError.self) { try await docker.inspect(id) }
    }

    @Test func dockersOwnMessageReachesTheCaller() async throws {
        let docker = try await client()
        do {
            _ = try await docker.create(name: "rumor-test-bad", ContainerConfig(image: "rumor-no-such-image:v0"))
            Issue.record("create of a missing image succeeded")
        } catch let error as DockerError {
            #expect(error.kind == .status(404))
            // Docker: "No such image: NAME"; Podman: "NAME: image not known".
            #expect((error.message.contains("No such image") || error.message.contains("image not known"))
                && error.message.contains("rumor-no-such-image:v0"), "\(error)")
        }
        #expect(try await docker.imageID("rumor-no-such-image:v0") == nil)
        #expect(try await docker.imageID("rumor-site:v1") != nil)
    }

    @Test func eventsArriveForLabelledContainers() async throws {
        let docker = try await client()
        let seen = AsyncStream<DockerEvent>.makeStream()
        let opened = AsyncStream<Void>.makeStream()
        let follower = Task {
            try await docker.followEvents(label: Self.label, opened: { opened.continuation.yield() }) { seen.continuation.yield($0) }
        }
        defer { follower.cancel() }
        var o = opened.stream.makeAsyncIterator()
        _ = await o.next()
        var config = ContainerConfig(image: "rumor-site:v1")
        config.labels = ["io.rumor.test": "docker-client"]
        config.command = ["sh", "-c", "exit 3"]
        let id = try await docker.create(name: "rumor-test-events-\(UInt32.random(in: 0...UInt32.max))", config)
        defer { Task { try? await docker.remove(id) } }
        try await docker.start(id)
        var it = seen.stream.makeAsyncIterator()
        var actions: [String] = []
        while let e = await it.next() {
            if e.containerID == id { actions.append(e.action) }
            if actions.contains("die") { break }
        }
        #expect(actions.contains("start") && actions.contains("die"))
        #expect(try await docker.inspect(id).exitCode == 3)
    }

    @Test func anAbsentSocketIsAClearError() async throws {
        do {
            _ = try await DockerClient.connect(socketPath: "/nonexistent/docker.sock", group: MultiThreadedEventLoopGroup.singleton)
        } catch let error as DockerError {
            #expect(error.isEngineDown && error.message.contains("unix:///nonexistent/docker.sock"))
        }
    }
}
