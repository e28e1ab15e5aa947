import Foundation
import Glibc
import SystemIO
import Testing

@Suite("A child process's descriptors")
struct ChildProcessTests {
    @Test("only stdin, stdout and stderr reach the child, not a descriptor inherited without close-on-exec")
    func onlyTheStandardDescriptorsReachTheChild() async throws {
        // A pipe without O_CLOEXEC, as a parent process may leave one to rasmand.
        var ends: [Int32] = [-1, -1]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        let child = try ChildProcess(executable: "/bin/ls", arguments: ["/proc/self/fd"])
        var output: [UInt8] = []
        while let bytes = try await child.readOutput(deadline: .now + .seconds(10)) { output += bytes }
        _ = await child.waitForExit(deadline: .now + .seconds(10))
        let descriptors = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isNewline).compactMap { Int($0) }.sorted()
        // 3 is the one ls opens to read the folder; the pipe's ends (\(ends)) must not be there.
        #expect(descriptors == [0, 1, 2, 3], "the child had \(descriptors)")
    }
}
