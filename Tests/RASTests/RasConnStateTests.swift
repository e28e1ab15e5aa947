import Foundation
import Testing
import RAS

@Suite("RasConnState")
struct RasConnStateTests {
    static let table: [(UInt32, String)] = [
        (0, "OpenPort"), (1, "PortOpened"), (2, "ConnectDevice"), (3, "DeviceConnected"),
        (4, "AllDevicesConnected"), (5, "Authenticate"), (6, "AuthNotify"), (7, "AuthRetry"),
        (8, "AuthCallback"), (9, "AuthChangePassword"), (10, "AuthProject"), (11, "AuthLinkSpeed"),
        (12, "AuthAck"), (13, "ReAuthenticate"), (14, "Authenticated"), (15, "PrepareForCallback"),
        (16, "WaitForModemReset"), (17, "WaitForCallback"), (18, "Projected"), (19, "StartAuthentication"),
        (20, "CallbackComplete"), (21, "LogonNetwork"), (22, "SubEntryConnected"), (23, "SubEntryDisconnected"),
        (24, "ApplySettings"), (0x1000, "Interactive"), (0x1001, "RetryAuthentication"),
        (0x1002, "CallbackSetByCaller"), (0x1003, "PasswordExpired"), (0x1004, "InvokeEapUI"),
        (0x2000, "Connected"), (0x2001, "Disconnected"),
    ]

    @Test("number ↔ name", arguments: table)
    func numberAndName(number: UInt32, name: String) throws {
        let state = try #require(RasConnState(rawValue: number))
        #expect(state.name == name)
        #expect(state.symbolicName == "RASCS_" + name)
        #expect(state.description == "\(name) (\(number))")
        #expect(RasConnState(name: name) == state)
        #expect(RasConnState(name: "rascs_" + name.uppercased()) == state)
    }

    @Test func everyStateIsListed() {
        #expect(RasConnState.allCases.count == Self.table.count)
        #expect(RasConnState(rawValue: 25) == nil)
        #expect(RasConnState(rawValue: 0x1005) == nil)
        #expect(RasConnState(name: "Nonsense") == nil)
    }

    @Test func descriptions() {
        #expect(RasConnState.openPort.description == "OpenPort (0)")
        #expect(RasConnState.connected.description == "Connected (8192)")
        #expect(RasConnState.disconnected.description == "Disconnected (8193)")
    }

    @Test func terminalAndPaused() {
        #expect(RasConnState.allCases.filter(\.isTerminal) == [.connected, .disconnected])
        #expect(RasConnState.allCases.filter(\.isPaused)
            == [.interactive, .retryAuthentication, .callbackSetByCaller, .passwordExpired, .invokeEapUI])
    }

    @Test func codableAsNumber() throws {
        let data = try JSONEncoder().encode([RasConnState.connected, .openPort])
        #expect(String(decoding: data, as: UTF8.self) == "[8192,0]")
        #expect(try JSONDecoder().decode([RasConnState].self, from: Data("[8193]".utf8)) == [.disconnected])
    }
}
