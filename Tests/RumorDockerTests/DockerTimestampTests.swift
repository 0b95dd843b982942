import RumorDocker
import Testing

@Suite struct DockerDecodingTests {
    @Test func timestampsWithNanosecondsZonesAndNever() {
        #expect(DockerTimestamp("1970-01-01T00:00:01Z")?.seconds == 1)
        let t = DockerTimestamp("2026-12-03T10:00:00.123456789Z")
        #expect(t?.seconds == 1_796_292_000 && t?.nanoseconds == 123_456_789)
        #expect(DockerTimestamp("2026-12-03T11:00:00+01:00")?.seconds == 1_796_292_000)
        #expect(DockerTimestamp("0001-01-01T00:00:00Z") == nil)
        #expect(DockerTimestamp("yesterday") == nil)
    }

    @Test func dockerHostSpellings() throws {
        #expect(try DockerClient.socketPath(dockerHost: nil) == "/var/run/docker.sock")
        #expect(try DockerClient.socketPath(dockerHost: "unix:///run/user/1000/docker.sock") == "/run/user/1000/docker.sock")
        #expect(throws: DockerError.self) { try DockerClient.socketPath(dockerHost: "tcp://10.0.0.1:2375") }
    }
}
