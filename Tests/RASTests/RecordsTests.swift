import Foundation
import Hayes
import Testing
import RAS

private func jsonObject(_ value: some Encodable) throws -> [String: Any] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return try #require(JSONSerialization.jsonObject(with: encoder.encode(value)) as? [String: Any])
}

@Suite("Records")
struct RecordsTests {
    @Test func handlePrintsAndParses() {
        let handle = RasConnectionHandle(rawValue: 42)
        #expect(handle.description == "0x0000002a")
        #expect(RasConnectionHandle(string: "0x0000002a") == handle)
        #expect(RasConnectionHandle(string: "0X2A") == handle)
        #expect(RasConnectionHandle(string: "42") == handle)
        #expect(RasConnectionHandle(string: " 42 ") == handle)
        let big = RasConnectionHandle(rawValue: .max)
        #expect(big.description == "0xffffffffffffffff")
        #expect(RasConnectionHandle(string: big.description) == big)
        for bad in ["", "0x", "x2a", "-1", "0xg", "4.2", "0x1ffffffffffffffff"] {
            #expect(RasConnectionHandle(string: bad) == nil, "\(bad)")
        }
        #expect(RasConnectionHandle(rawValue: 1) < RasConnectionHandle(rawValue: 2))
    }

    @Test func handleCodable() throws {
        let handle = RasConnectionHandle(rawValue: 255)
        #expect(String(decoding: try JSONEncoder().encode([handle]), as: UTF8.self) == #"["0x000000ff"]"#)
        #expect(try JSONDecoder().decode([RasConnectionHandle].self, from: Data(#"["0xff", 255]"#.utf8))
            == [handle, handle])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([RasConnectionHandle].self, from: Data(#"["nope"]"#.utf8))
        }
    }

    @Test func deviceType() throws {
        #expect(RasDeviceType.modem.description == "modem")
        #expect(String(decoding: try JSONEncoder().encode([RasDeviceType.modem]), as: UTF8.self) == #"["modem"]"#)
    }

    @Test func statusJSONConnected() throws {
        let status = RasConnStatus(
            handle: RasConnectionHandle(rawValue: 1), entryName: "Work", state: .connected, error: .success,
            deviceName: "/dev/ttyUSB0", phoneNumber: "5551234", connectRate: 33600, connectProtocol: "V42BIS",
            connectDetails: RasConnectDetails(carrierRate: 31200, errorControl: "LAPM", compression: "V42BIS"))
        #expect(status.error == nil, "code 0 is stored as no error")
        let json = try jsonObject(status)
        #expect(json["handle"] as? String == "0x00000001")
        #expect(json["entryName"] as? String == "Work")
        #expect(json["deviceType"] as? String == "modem")
        #expect(json["deviceName"] as? String == "/dev/ttyUSB0")
        #expect(json["phoneNumber"] as? String == "5551234")
        #expect(json["state"] as? String == "Connected")
        #expect(json["stateCode"] as? Int == 8192)
        #expect(json["error"] as? Int == 0)
        #expect(json["errorName"] as? String == "")
        #expect(json["errorMessage"] as? String == "")
        #expect(json["errorDetail"] == nil)
        #expect(json["connectRate"] as? Int == 33600)
        #expect(json["connectProtocol"] as? String == "V42BIS")
        let details = json["connectDetails"] as? [String: Any]
        #expect(details?["carrierRate"] as? Int == 31200)
        #expect(details?["errorControl"] as? String == "LAPM")
        let decoded = try JSONDecoder().decode(RasConnStatus.self, from: JSONEncoder().encode(status))
        #expect(decoded == status)
    }

    @Test func statusJSONFailed() throws {
        let status = RasConnStatus(
            handle: RasConnectionHandle(rawValue: 7), entryName: ".5551234", state: .disconnected,
            error: RasError.lineBusy.with(detail: "attempt 3 of 3"), deviceName: "/dev/ttyS0", phoneNumber: "5551234")
        let json = try jsonObject(status)
        #expect(json["state"] as? String == "Disconnected")
        #expect(json["stateCode"] as? Int == 8193)
        #expect(json["error"] as? Int == 676)
        #expect(json["errorName"] as? String == "ERROR_LINE_BUSY")
        #expect(json["errorMessage"] as? String == "The line is busy.")
        #expect(json["errorDetail"] as? String == "attempt 3 of 3")
        #expect(json["connectRate"] == nil)
        let decoded = try JSONDecoder().decode(RasConnStatus.self, from: JSONEncoder().encode(status))
        #expect(decoded == status)
        #expect(decoded.error?.detail == "attempt 3 of 3")
    }

    @Test func statusFromDialState() {
        var state = DialMachine.State()
        for event in [DialMachine.Event.start, .portOpened, .modemReady, .dialResult(.connect(rate: 9600, protocol: "ARQ"))] {
            state = DialMachine.step(state, event).0
        }
        let status = RasConnStatus(handle: RasConnectionHandle(rawValue: 9), entryName: "W", deviceName: "/dev/ttyS0",
                                   phoneNumber: "1", dialState: state)
        #expect(status.state == .connected)
        #expect(status.error == nil)
        #expect(status.connectRate == 9600)
        #expect(status.connectProtocol == "ARQ")
        let lost = DialMachine.step(state, .carrierLost).0
        let after = RasConnStatus(handle: status.handle, entryName: "W", deviceName: "/dev/ttyS0", phoneNumber: "1",
                                  dialState: lost)
        #expect(after.state == .disconnected)
        #expect(after.error == .remoteDisconnection)
    }

    @Test func connectionJSON() throws {
        let connection = RasConnection(
            handle: RasConnectionHandle(rawValue: 3), entryName: "Work", deviceName: "/dev/ttyACM0",
            phonebookPath: "/etc/swift-ras/rasphone.pbk", phoneNumber: "5551234", state: .connectDevice)
        let json = try jsonObject(connection)
        #expect(Set(json.keys) == [
            "handle", "entryName", "deviceType", "deviceName", "phonebookPath", "phoneNumber", "state", "stateCode",
            "error", "errorName", "errorMessage", "direction",
        ])
        #expect(json["direction"] as? String == "outgoing")
        #expect(json["handle"] as? String == "0x00000003")
        #expect(json["state"] as? String == "ConnectDevice")
        #expect(json["stateCode"] as? Int == 2)
        #expect(json["error"] as? Int == 0)
        #expect(json["phonebookPath"] as? String == "/etc/swift-ras/rasphone.pbk")
        #expect(try JSONDecoder().decode(RasConnection.self, from: JSONEncoder().encode(connection)) == connection)

        var incoming = connection
        incoming.direction = .incoming
        incoming.callerID = CallerID(number: "5551234", name: "JOHN DOE", form: .clip)
        let answered = try jsonObject(incoming)
        #expect(answered["direction"] as? String == "incoming")
        #expect((answered["callerID"] as? [String: Any])?["number"] as? String == "5551234")
        #expect(try JSONDecoder().decode(RasConnection.self, from: JSONEncoder().encode(incoming)) == incoming)
        // A record from before directions existed reads as outgoing.
        var old = try jsonObject(connection)
        old["direction"] = nil
        let decoded = try JSONDecoder().decode(RasConnection.self, from: JSONSerialization.data(withJSONObject: old))
        #expect(decoded.direction == .outgoing && decoded.callerID == nil)

        let entryless = RasConnection(
            handle: RasConnectionHandle(rawValue: 4), entryName: ".5551234", deviceName: "/dev/ttyACM0",
            phoneNumber: "5551234", state: .disconnected, error: .noDialtone)
        let other = try jsonObject(entryless)
        #expect(other["phonebookPath"] == nil)
        #expect(other["error"] as? Int == 680)
        #expect(other["errorName"] as? String == "ERROR_NO_DIALTONE")
    }

    @Test func decodingAcceptsStateNameOnlyAndRejectsUnknownCodes() throws {
        let byName = #"{"handle":"0x1","entryName":"W","deviceType":"modem","deviceName":"d","phoneNumber":"1","state":"portopened","error":0}"#
        #expect(try JSONDecoder().decode(RasConnection.self, from: Data(byName.utf8)).state == .portOpened)
        let badCode = #"{"handle":"0x1","entryName":"W","deviceType":"modem","deviceName":"d","phoneNumber":"1","state":"X","stateCode":99,"error":0}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RasConnection.self, from: Data(badCode.utf8)) }
    }
}
