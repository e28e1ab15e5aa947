import Foundation
import RAS
@testable import RASService
import SystemIO
import TestSupport
import Testing

/// Issue 12, item 5: frames never interleave, in either direction, under back-pressure — a
/// peer that reads slowly, writes that go out in parts, producers that are cancelled, writes
/// that time out halfway.
///
/// A Unix stream socket queues at most the sender's `SO_SNDBUF` (212 992 bytes by default)
/// and splits a large `send` into chunks of at most 32 KiB, so frames of hundreds of KiB are
/// always written in several parts. (The receiver's `SO_RCVBUF` plays no part in
/// `AF_UNIX` stream flow control, and the server's accepted socket is not the test's to
/// shrink; large frames do the same job.)
@Suite(.timeLimit(.minutes(2)))
struct FrameIntegrityTests {
    // MARK: Server → client

    /// A raw client that reads in small bites with pauses while, on one connection, big
    /// answers, small answers, state events of its dials and connection events of several
    /// watches (some unsubscribed while the socket is full) all flow; a second party dials
    /// and hangs up meanwhile. Every frame must arrive whole and in order.
    @Test func aSlowReaderGetsEveryFrameWholeWhileAnswersAndEventsFlow() async throws {
        try await InProcessDaemon.run(modems: 5) { daemon in
            let modems = daemon.bank.modems.map(\.slavePath)
            let names = (0..<1500).map { "Entry \(String(format: "%05d", $0)) " + String(repeating: "x", count: 100) }
            let book = try daemon.phonebook(names.map { "[\($0)]\nPort=\(modems[0])\nPhoneNumber=5551234\n" }.joined())

            var requests = Requests()
            var watches = [requests.add("watch"), requests.add("watch")]
            var unsubscribes: [Int: Int] = [:]
            var dials: [Int] = []
            var numbers: [String] = []
            for round in 0..<4 {
                let number = "55570\(round)0"
                numbers.append(number)
                dials.append(requests.add("dial", #","dial":{"phoneNumber":"\#(number)","device":"\#(modems[round + 1])"}"#))
                requests.add("enumEntries", #","phonebookPath":"\#(book)""#)
                watches.append(requests.add("watch"))
                // Unsubscribe an older watch while its events wait for room.
                let old = watches[round + 1]
                unsubscribes[old] = requests.add("unsubscribe", #","subscription":\#(old)"#)
                requests.add("hello")
                requests.add("enumConnections")
            }
            for number in numbers { requests.add("hangUp", #","entryName":".\#(number)""#) }
            var closing = requests
            let last = closing.add("hello")

            let raw = try await UnixSocketConnection.connect(path: daemon.socket)
            defer { raw.close() }
            let lines = requests.lines
            let finalLine = closing.lines.last ?? ""
            async let traffic: Void = {
                // Someone else dials and hangs up meanwhile: connection events for the watches.
                async let churn: Void = {
                    for cycle in 0..<4 {
                        let dial = try await daemon.manager.dial(.number("555800\(cycle)", device: modems[0]))
                        _ = await collectUntilTerminal(dial.notifications)
                        try await daemon.manager.hangUp(dial.handle)
                        _ = await waitUntilGone(dial.handle, on: daemon.manager)
                    }
                }()
                for line in lines { try await raw.write(Array(line.utf8), deadline: .now + .seconds(30)) }
                try await churn
                try await raw.write(Array(finalLine.utf8), deadline: .now + .seconds(30))
            }()

            var reader = SlowReader(connection: raw, chunk: 4096, pause: .milliseconds(1))
            var frames: [[String: Any]] = []
            var corrupt: [String] = []
            var largest = 0
            var sawLast = false
            while !sawLast, let line = try await reader.nextLine() {
                largest = max(largest, line.count + 1)
                guard let frame = wholeFrame(line) else {
                    corrupt.append(String(decoding: line.prefix(120), as: UTF8.self))
                    continue
                }
                frames.append(frame)
                sawLast = frame["event"] == nil && frame["id"] as? Int == last
            }
            try await traffic

            #expect(corrupt.isEmpty, "frames that are not whole: \(corrupt)")
            #expect(sawLast, "the connection ended before the last answer; \(reader.buffer.count) bytes of a cut frame")
            #expect(largest > 256 * 1024, "no frame was large enough to need several writes")

            // Answers: one per request, in request order.
            let answers = frames.filter { $0["event"] == nil }
            #expect(answers.compactMap { $0["id"] as? Int } == Array(1...last))
            for answer in answers where closing.ops[answer["id"] as? Int ?? 0] == "enumEntries" {
                let entries = (answer["entries"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
                #expect(entries == names)
            }

            // Events: only between the answer that opened their subscription and the answer to
            // its unsubscribe or its end event, and in order per subscription.
            var open: Set<Int> = []
            var closed: Set<Int> = []
            var kinds: [String: [Int]] = [:]
            var states: [Int: [Int]] = [:]
            var events = 0
            let lifecycle = ["connected": 0, "disconnected": 1, "removed": 2]
            for frame in frames {
                if let id = frame["id"] as? Int, frame["event"] == nil {
                    if frame["ok"] as? Bool == true, watches.contains(id) || dials.contains(id) { open.insert(id) }
                    if let subscription = unsubscribes.first(where: { $0.value == id })?.key { closed.insert(subscription) }
                    continue
                }
                events += 1
                let subscription = frame["subscription"] as? Int ?? -1
                #expect(open.contains(subscription) && !closed.contains(subscription),
                        "event of subscription \(subscription) outside its lifetime: \(frame)")
                switch frame["event"] as? String {
                case "end":
                    closed.insert(subscription)
                case "connection":
                    let handle = (frame["connection"] as? [String: Any])?["handle"] as? String ?? "?"
                    kinds["\(subscription) \(handle)", default: []].append(lifecycle[frame["kind"] as? String ?? ""] ?? -1)
                case "state":
                    let code = (frame["notification"] as? [String: Any])?["stateCode"] as? Int ?? -1
                    states[subscription, default: []].append(code)
                default:
                    Issue.record("unknown event \(frame)")
                }
            }
            #expect(events > 0)
            for (key, sequence) in kinds {
                #expect(sequence == sequence.sorted() && Set(sequence).count == sequence.count && !sequence.contains(-1),
                        "connection events out of order for \(key): \(sequence)")
            }
            for (subscription, sequence) in states {
                #expect(sequence == sequence.sorted() && !sequence.contains(-1), "states of dial \(subscription): \(sequence)")
            }
        }
    }

    /// A client that reads too slowly to take a frame within the server's frame timeout is
    /// dropped: it gets whole frames, then the beginning of the frame that was cut, then the
    /// end of the stream — never the events that were waiting behind the cut frame, though it
    /// keeps reading. (Turn-taking alone passed the turn on after a cut frame: whether the
    /// next frame's bytes got in before the close was a race.)
    @Test func aReaderTooSlowForTheFrameTimeoutGetsWholeFramesThenOneCutFrameThenTheEnd() async throws {
        try await InProcessDaemon.run(modems: 1, frameTimeout: .milliseconds(200)) { daemon in
            // An answer of about 450 KB: at most 200 KB/s below, so it cannot be taken in time.
            let names = (0..<1500).map { "Entry \(String(format: "%05d", $0)) " + String(repeating: "y", count: 200) }
            let port = daemon.bank.modems[0].slavePath
            let book = try daemon.phonebook(names.map { "[\($0)]\nPort=\(port)\nPhoneNumber=5551234\n" }.joined())
            let other = try await daemon.client()
            let listing = try await other.entryListing(phonebookPath: book)

            var requests = Requests()
            let watches = (0..<5).map { _ in requests.add("watch") }
            let big = requests.add("enumEntries", #","phonebookPath":"\#(book)""#)
            requests.add("enumEntries", #","phonebookPath":"\#(book)""#)
            requests.add("hello")
            let raw = try await UnixSocketConnection.connect(path: daemon.socket)
            defer { raw.close() }
            for line in requests.lines { try await raw.write(Array(line.utf8), deadline: .now + .seconds(30)) }
            // Connection events for the five watches queue behind the big answer.
            let dial = try await other.dial(.number("5551234", device: port))

            var reader = SlowReader(connection: raw, chunk: 2048, pause: .milliseconds(10))
            var corrupt: [String] = []
            var ids: [Int] = []
            while let line = try await reader.nextLine() {
                guard let frame = wholeFrame(line) else {
                    corrupt.append(String(decoding: line.prefix(120), as: UTF8.self))
                    continue
                }
                if frame["event"] == nil, let id = frame["id"] as? Int { ids.append(id) }
            }
            #expect(corrupt.isEmpty, "frames that are not whole: \(corrupt)")
            #expect(ids == watches, "the big answer cannot have been taken in time")
            var answer = Frame.response(to: big)
            answer.entries = listing.entries
            let whole = answer.encodedLine()
            let cut = reader.buffer
            #expect(!cut.isEmpty && cut.count < whole.count && whole.starts(with: cut),
                    "the bytes after the last whole frame are not the beginning of the big answer: \(String(decoding: cut.prefix(80), as: UTF8.self))…")

            // Everyone else is served on.
            #expect(try await other.hello().pid == ProcessIdentity.processID)
            try await other.hangUp(dial.handle)
            #expect(await waitUntilGone(dial.handle, on: other))
        }
    }

    // MARK: Client → server

    /// Many tasks of one `RASClient` send requests of 60 KB (each written in parts) while its
    /// dial streams end (each sending an unsubscribe) and a server reads them in small bites
    /// with pauses. Every request must arrive whole and be answered.
    @Test func concurrentRequestsReachASlowServerWhole() async throws {
        let folder = try TestSupport.temporaryDirectory("frames-client").path
        defer { TestSupport.remove(URL(fileURLWithPath: folder)) }
        let listener = try UnixSocketListener(path: folder + "/s.sock")
        defer { listener.close() }
        async let served = FakeServer.serve(listener, chunk: 2048, pause: .milliseconds(1))
        let client = try await RASClient.connect(socketPath: folder + "/s.sock")

        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<12 {
                group.addTask {
                    for round in 0..<3 {
                        let listing = try await client.entryListing(phonebookPath: FakeServer.bigPath(task * 3 + round))
                        #expect(listing.entries.isEmpty)
                    }
                }
            }
            for _ in 0..<6 {
                group.addTask {
                    let dial = try await client.dial(.number("5551234"))
                    var notifications = dial.notifications.makeAsyncIterator()
                    #expect(await notifications.next()?.state == .openPort)
                    // The stream is dropped here: the client unsubscribes.
                }
            }
            try await group.waitForAll()
        }
        #expect(try await client.hello().version == WireProtocol.version)
        await client.close()

        let report = try await served
        #expect(report.corrupt.isEmpty, "requests that are not whole: \(report.corrupt)")
        #expect(report.ops["enumEntries"] == 36)
        #expect(report.ops["dial"] == 6)
        #expect(report.ops["hello"] == 1)
        #expect((report.ops["unsubscribe"] ?? 0) <= 6)
        #expect(report.largest > 32 * 1024)
        #expect(report.leftover == 0)
    }

    /// A request the server does not take within the frame timeout is cut off; the client
    /// then drops the connection (711 for every request) instead of writing its next request
    /// after the cut one, where the server would read the two as one malformed frame.
    @Test func aRequestCutOffByItsTimeoutIsNeverContinuedByTheNext() async throws {
        let folder = try TestSupport.temporaryDirectory("frames-cut").path
        defer { TestSupport.remove(URL(fileURLWithPath: folder)) }
        let listener = try UnixSocketListener(path: folder + "/s.sock")
        defer { listener.close() }
        let (start, go) = AsyncStream<Void>.makeStream()
        // A server that reads nothing until the client has given up on a request.
        async let served = FakeServer.serve(listener, chunk: 65536, pause: .zero, after: start)
        let client = try await RASClient.connect(socketPath: folder + "/s.sock", frameTimeout: .milliseconds(200))

        let failures = await withTaskGroup(of: RasError?.self) { group in
            // 8 × 60 KB: about 200 KB fit in the socket, then one request is cut.
            for index in 0..<8 {
                group.addTask {
                    do throws(RasError) {
                        _ = try await client.entryListing(phonebookPath: FakeServer.bigPath(index))
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            var failures: [RasError?] = []
            if let first = await group.next() { failures.append(first) }
            go.yield()
            for await outcome in group { failures.append(outcome) }
            return failures
        }
        #expect(failures.count == 8)
        #expect(failures.allSatisfy { $0 == .connectionManagerUnavailable }, "\(failures)")
        // The connection is gone: nothing more is written after the cut request.
        await #expect(throws: RasError.connectionManagerUnavailable) { try await client.hello() }

        let report = try await served
        #expect(report.corrupt.isEmpty, "the server read mixed frames: \(report.corrupt)")
        #expect(report.ops["enumEntries", default: 0] < 8)
        #expect(report.cutIsPrefixOfARequest, "the bytes after the last whole request are not the start of one")
    }

    // MARK: The writer itself

    /// Closing a writer whose peer reads nothing cuts the frame being written and releases
    /// every producer waiting for its frame; the peer gets the start of one frame, then the end.
    @Test func closingTheWriterReleasesEveryWaitingProducer() async throws {
        let folder = try TestSupport.temporaryDirectory("frames-writer").path
        defer { TestSupport.remove(URL(fileURLWithPath: folder)) }
        let listener = try UnixSocketListener(path: folder + "/s.sock")
        defer { listener.close() }
        let near = try await UnixSocketConnection.connect(path: folder + "/s.sock")
        let far = try #require(try await listener.accept(deadline: .now + .seconds(10)))
        defer { far.close() }
        let writer = FrameWriter(connection: near, frameTimeout: .seconds(60))
        // 1 MiB frames: none fits in the socket.
        let lines = (0..<6).map { Array(repeating: UInt8(ascii: "a") + UInt8($0), count: 1 << 20) + [10] }
        let results = await withTaskGroup(of: Bool.self) { group in
            for line in lines { group.addTask { await writer.send(line) } }
            try? await Task.sleep(for: .milliseconds(50))
            writer.close()
            var results: [Bool] = []
            for await result in group { results.append(result) }
            return results
        }
        await writer.closed()
        #expect(results == Array(repeating: false, count: 6))
        #expect(await writer.send([10]) == false)

        var received: [UInt8] = []
        while true {
            do throws(SystemError) {
                received += try await far.read(deadline: .now + .seconds(30))
            } catch {
                break
            }
        }
        #expect(!received.isEmpty && !received.contains(10))
        #expect(lines.contains { $0.starts(with: received) })
    }

    /// The daemon refuses a client over its limit with one frame and closes at once, maybe
    /// before the client's first request goes out. The client's write then fails (EPIPE):
    /// its writer must leave the connection to the reader, which still gets the refusal
    /// (error 8, not a bare 711). The daemon's writer closes, as it drops a client.
    @Test(arguments: [true, false])
    func aWriteToAPeerThatLeftKeepsItsLastFrameReadable(keepsReading: Bool) async throws {
        let folder = try TestSupport.temporaryDirectory("frames-hangup").path
        defer { TestSupport.remove(URL(fileURLWithPath: folder)) }
        let listener = try UnixSocketListener(path: folder + "/s.sock")
        defer { listener.close() }
        let near = try await UnixSocketConnection.connect(path: folder + "/s.sock")
        defer { near.close() }
        let far = try #require(try await listener.accept(deadline: .now + .seconds(10)))
        let refusal = Array(#"{"v":1,"ok":false,"error":{"code":8}}"#.utf8) + [10]
        try await far.write(refusal, deadline: .now + .seconds(5))
        far.close()

        let writer = FrameWriter(connection: near, frameTimeout: .seconds(5), keepsReadingAfterHangUp: keepsReading)
        #expect(await writer.send(Array(#"{"v":1,"id":1,"op":"hello"}"#.utf8) + [10]) == false, "the peer has left")
        await writer.closed()
        var received: [UInt8] = []
        var end: SystemError?
        while end == nil {
            do throws(SystemError) {
                received += try await near.read(deadline: .now + .seconds(5))
            } catch {
                end = error
            }
        }
        if keepsReading {
            #expect(received == refusal, "the reader gets the peer's last frame")
            if case .hangUp = end {} else { Issue.record("then the end of the stream, not \(String(describing: end))") }
        } else {
            #expect(received.isEmpty)
            if case .closed = end {} else { Issue.record("the writer closed the connection, not \(String(describing: end))") }
        }
    }
}

// MARK: Helpers

/// Requests of a raw client, numbered 1, 2, …
private struct Requests: Sendable {
    private(set) var lines: [String] = []
    private(set) var ops: [Int: String] = [:]
    private var nextID = 0

    @discardableResult
    mutating func add(_ op: String, _ fields: String = "") -> Int {
        nextID += 1
        lines.append(#"{"v":1,"id":\#(nextID),"op":"\#(op)"\#(fields)}"# + "\n")
        ops[nextID] = op
        return nextID
    }
}

/// Reads a socket in bites of `chunk` bytes with `pause` after each and splits it into lines.
private struct SlowReader {
    let connection: UnixSocketConnection
    let chunk: Int
    let pause: Duration
    /// Bytes after the last newline (at the end of the stream: a cut frame).
    private(set) var buffer: [UInt8] = []

    init(connection: UnixSocketConnection, chunk: Int, pause: Duration) {
        self.connection = connection
        self.chunk = chunk
        self.pause = pause
    }

    /// The next line without its newline, or `nil` at the end of the stream.
    mutating func nextLine() async throws -> [UInt8]? {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return line
            }
            let bytes: [UInt8]
            do throws(SystemError) {
                bytes = try await connection.read(maxCount: chunk, deadline: .now + .seconds(30))
            } catch {
                if case .hangUp = error { return nil }
                throw error
            }
            try #require(!bytes.isEmpty, "nothing arrived for 30 s")
            buffer += bytes
            if pause > .zero { try await Task.sleep(for: pause) }
        }
    }
}

/// The frame as a JSON object if `line` is one whole frame the server may send: a JSON
/// object of the protocol (it decodes as a `Frame`), version 1, either a response (`id` and
/// `ok`) or an event (`event` and `subscription`).
private func wholeFrame(_ line: [UInt8]) -> [String: Any]? {
    guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
          (try? Frame.decode(line[...])) != nil,
          object["v"] as? Int == WireProtocol.version else { return nil }
    let response = object["id"] as? Int != nil && object["ok"] as? Bool != nil && object["event"] == nil
    let event = object["event"] as? String != nil && object["subscription"] as? Int != nil && object["ok"] == nil
    return response != event ? object : nil
}

/// A server of the protocol that checks every request it reads is whole.
private enum FakeServer {
    struct Report: Sendable {
        /// How many whole requests of each operation arrived.
        var ops: [String: Int] = [:]
        /// Lines that are not whole requests (their beginning).
        var corrupt: [String] = []
        /// The longest request, newline included.
        var largest = 0
        /// Bytes after the last newline when the client hung up.
        var leftover = 0
        /// Whether those bytes (if any) are the beginning of a request `bigPath` made.
        var cutIsPrefixOfARequest = true
    }

    /// An absolute path of about 60 KB that says which one it is: `/frame-N/` then the digit
    /// N % 10, repeated.
    static func bigPath(_ index: Int) -> String {
        "/frame-\(index)/" + String(repeating: Character("\(index % 10)"), count: 60_000)
    }

    /// Whether `path` is one of `bigPath`'s, whole.
    private static func isBigPath(_ path: String) -> Bool {
        guard path.hasPrefix("/frame-"), let slash = path.dropFirst(7).firstIndex(of: "/"),
              let index = Int(path[path.index(path.startIndex, offsetBy: 7)..<slash]) else { return false }
        return path == bigPath(index)
    }

    /// Accepts one client; once `start` yields (at once without it), reads its requests in
    /// bites of `chunk` with `pause` after each, answers every whole request, and returns
    /// what it saw when the client leaves. A line that is not a whole request is recorded and
    /// ends the connection.
    static func serve(_ listener: UnixSocketListener, chunk: Int, pause: Duration,
                      after start: AsyncStream<Void>? = nil) async throws -> Report {
        let connection = try #require(try await listener.accept(deadline: .now + .seconds(30)))
        defer { connection.close() }
        if let start { for await _ in start { break } }
        var report = Report()
        var reader = SlowReader(connection: connection, chunk: chunk, pause: pause)
        while let line = try await reader.nextLine() {
            guard let request = try? Frame.decode(line[...]), request.v == WireProtocol.version,
                  let id = request.id, let op = request.op, Frame.Operation(rawValue: op) != nil,
                  request.phonebookPath.map(isBigPath) ?? true else {
                report.corrupt.append(String(decoding: line.prefix(120), as: UTF8.self))
                return report
            }
            report.ops[op, default: 0] += 1
            report.largest = max(report.largest, line.count + 1)
            var answers = [Frame.response(to: id)]
            switch Frame.Operation(rawValue: op) {
            case .enumEntries:
                answers[0].entries = []
            case .hello:
                answers[0].server = ServerInfo(version: WireProtocol.version, pid: 1, uid: 0)
            case .dial:
                let handle = RasConnectionHandle(rawValue: UInt64(id))
                answers[0].handle = handle
                answers.append(Frame(event: Frame.Event.state.rawValue, subscription: id,
                                     notification: RasDialNotification(handle: handle, state: .openPort, error: nil)))
            default:
                break
            }
            // A client that left no longer reads answers; what it sent is still read.
            for answer in answers { try? await connection.write(answer.encodedLine(), deadline: .now + .seconds(30)) }
        }
        report.leftover = reader.buffer.count
        if !reader.buffer.isEmpty {
            // `{"id":N,"op":"enumEntries","phonebookPath":"/frame-I/…` (keys sorted): find N,
            // then compare with each request `bigPath` makes.
            let text = String(decoding: reader.buffer, as: UTF8.self)
            if let range = text.range(of: #"^\{"id":[0-9]+,"#, options: .regularExpression),
               let id = Int(text[range].dropFirst(6).dropLast()) {
                report.cutIsPrefixOfARequest = (0..<64).contains { index in
                    var frame = Frame(op: Frame.Operation.enumEntries.rawValue, phonebookPath: bigPath(index))
                    frame.id = id
                    return frame.encodedLine().starts(with: reader.buffer)
                }
            } else {
                report.cutIsPrefixOfARequest = Array(#"{"id":"#.utf8).starts(with: reader.buffer)
            }
        }
        return report
    }
}
