import Glibc
import SystemIO
import Testing

@Suite("Socket activation", .serialized)
struct SocketActivationTests {
    @Test("descriptors meant for another process (LISTEN_PID) are not taken; the variables are removed either way")
    func otherProcess() {
        setenv("LISTEN_PID", "\(getpid() + 1)", 1)
        setenv("LISTEN_FDS", "1", 1)
        setenv("LISTEN_FDNAMES", "rasmand.socket", 1)
        #expect(SocketActivation.takeListeningDescriptors().isEmpty)
        #expect(getenv("LISTEN_PID") == nil && getenv("LISTEN_FDS") == nil && getenv("LISTEN_FDNAMES") == nil)
        #expect(SocketActivation.takeListeningDescriptors().isEmpty, "not activated: nothing")
    }

    @Test("a descriptor that is not a listening Unix socket is refused")
    func notASocket() throws {
        let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        #expect(throws: SystemError.self) { _ = try UnixSocketListener(adopting: fd) }
    }
}
