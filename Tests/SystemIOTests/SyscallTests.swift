import Foundation
import Glibc
import SystemIO
import SystemPackage
import Testing
import TestSupport

@Suite("The errno funnel")
struct SyscallTests {
    @Test("a failure comes back as the errno it set, for the caller to classify")
    func resultCarriesTheErrno() {
        #expect(Syscall.result { close(-1) } == .failure(.badFileDescriptor))
        #expect(Syscall.result { getpid() } == .success(getpid()))
        #expect(Syscall.pointerResult { realpath("/nonexistent/swift-ras", nil) }.map { _ in 0 } == .failure(.noSuchFileOrDirectory))
    }

    @Test("EINTR is retried unless the caller says otherwise")
    func interruptsAreRetried() {
        var calls = 0
        let interruptedOnce = { () -> Int32 in
            calls += 1
            if calls == 1 {
                errno = EINTR
                return -1
            }
            return 7
        }
        #expect(Syscall.result(interruptedOnce) == .success(7))
        #expect(calls == 2)
        calls = 0
        #expect(Syscall.result(retryOnInterrupt: false, interruptedOnce) == .failure(.interrupted))
        #expect(calls == 1)
    }

    @Test("a thrown failure names the C call, the path and the errno")
    func checkNamesTheCall() throws {
        let missing = try TestSupport.temporaryDirectory("syscall").appendingPathComponent("absent").path
        #expect(throws: SystemError.system(call: "open", path: missing, errno: .noSuchFileOrDirectory)) {
            try Syscall.check("open", path: missing) { open(missing, O_RDONLY) }
        }
        let error = SystemError.system(call: "open", path: missing, errno: .noSuchFileOrDirectory)
        #expect(error.errno == .noSuchFileOrDirectory)
        #expect(error.description == "open \(missing): No such file or directory (errno 2)")
        #expect(throws: SystemError.system(call: "realpath", path: missing, errno: .noSuchFileOrDirectory)) {
            try Syscall.pointerResult { realpath(missing, nil) }.get("realpath", path: missing)
        }
    }
}
