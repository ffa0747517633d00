/** Upper-layer PDUs, the incremental reader and the command codec, at the byte level. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CommandField, decodeCommand, encodeCommand } from './command.ts'
import { negotiate } from './negotiation.ts'
import { encodeAssociateAc, encodePData, parseAssociateRq, PduType } from './pdu.ts'
import { PduReader } from './pdu-reader.ts'
import { associateRq, cStoreRq, pdata } from './testkit.ts'

const CT = '1.2.840.10008.5.1.4.1.1.2'

test('A-ASSOCIATE-RQ parsing: AE titles, contexts, max PDU length', () => {
  const rq = associateRq({ calledAE: 'KURA', callingAE: 'CT01', maxPdu: 32768, contexts: [
    { id: 1, abstractSyntax: CT, transferSyntaxes: ['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2'] },
    { id: 3, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] },
    { id: 5, abstractSyntax: '1.2.840.10008.5.1.4.1.2.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] },
  ] })
  const p = parseAssociateRq(rq.subarray(6))
  assert.equal(p.calledAE, 'KURA')
  assert.equal(p.callingAE, 'CT01')
  assert.equal(p.maxPduLength, 32768)
  assert.equal(p.contexts.length, 3)
  const { answers, accepted } = negotiate(p.contexts, {})
  assert.deepEqual(answers.map((a) => [a.id, a.result]), [[1, 0], [3, 0], [5, 3]], 'C-FIND model refused: abstract syntax not supported')
  assert.equal(accepted.get(1)!.transferSyntax, '1.2.840.10008.1.2.4.50', "the peer's first supported choice")
  const ac = encodeAssociateAc({ calledAE: p.calledAE, callingAE: p.callingAE, contexts: answers, maxPduLength: 65536, implementationClassUid: '1.2.3', implementationVersionName: 'X' })
  assert.equal(ac[0], PduType.AssociateAc)
  assert.equal(ac.readUInt32BE(2), ac.length - 6)
})

test('command sets round-trip through the Implicit VR LE codec', () => {
  const c = decodeCommand(cStoreRq(CT, '2.25.77', 9))
  assert.equal(c.CommandField, CommandField.CStoreRq)
  assert.equal(c.MessageID, 9)
  assert.equal(c.AffectedSOPClassUID, CT)
  assert.equal(c.AffectedSOPInstanceUID, '2.25.77')
  const rsp = decodeCommand(encodeCommand({ CommandField: CommandField.CStoreRsp, MessageIDBeingRespondedTo: 9, CommandDataSetType: 0x0101, Status: 0xa700, ErrorComment: 'disk', AffectedSOPInstanceUID: '2.25.77' }))
  assert.equal(rsp.Status, 0xa700)
  assert.equal(rsp.ErrorComment, 'disk')
  assert.throws(() => decodeCommand(Buffer.from([0, 0, 0, 1, 9, 0, 0, 0])), /DIMSE command/)
})

test('P-DATA-TF split to the peer maximum', () => {
  const pdus = encodePData(1, false, Buffer.alloc(10_000, 3), 4096)
  assert.ok(pdus.every((p) => p.length - 6 <= 4096))
  assert.equal(pdus.reduce((n, p) => n + p.length - 12, 0), 10_000)
  assert.equal(pdus.at(-1)![11], 0x02, 'only the last PDV has the last-fragment bit')
  assert.equal(pdus[0]![11], 0x00)
})

test('the reader reassembles the same messages whatever the socket chunking', () => {
  const data = Buffer.alloc(5000)
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff
  const stream = Buffer.concat([
    associateRq({ calledAE: 'KURA', callingAE: 'X', contexts: [{ id: 1, abstractSyntax: CT, transferSyntaxes: ['1.2.840.10008.1.2'] }] }),
    pdata(1, true, true, cStoreRq(CT, '2.25.5')),
    pdata(1, false, false, data.subarray(0, 3000)),
    pdata(1, false, true, data.subarray(3000)),
    Buffer.from([PduType.ReleaseRq, 0, 0, 0, 0, 4, 0, 0, 0, 0]),
  ])
  for (const size of [1, 2, 3, 5, 7, 13, 64, 1000, stream.length]) {
    const events: string[] = []
    const command: Buffer[] = []
    const dataset: Buffer[] = []
    const r = new PduReader({
      pdu: (t) => events.push(`pdu${t}`),
      pdv: (_c, isCommand, last, piece, end) => {
        ;(isCommand ? command : dataset).push(Buffer.from(piece))
        if (last && end) events.push(isCommand ? 'command' : 'dataset')
      },
    }, 1 << 20, 16384)
    for (let i = 0; i < stream.length; i += size) r.push(stream.subarray(i, i + size))
    assert.deepEqual(events, ['pdu1', 'command', 'dataset', 'pdu5'], `chunk size ${size}`)
    assert.equal(decodeCommand(Buffer.concat(command)).AffectedSOPInstanceUID, '2.25.5')
    assert.deepEqual(Buffer.concat(dataset), data)
  }
})

test('the reader rejects PDUs over the announced maximum and PDVs that overrun their PDU', () => {
  const r = new PduReader({ pdu() {}, pdv() {} }, 1 << 20, 4096)
  assert.throws(() => r.push(pdata(1, false, true, Buffer.alloc(8000))), /exceeds the announced maximum/)
  const bad = pdata(1, false, true, Buffer.alloc(10))
  bad.writeUInt32BE(100, 6) // PDV claims more than its PDU holds
  const r2 = new PduReader({ pdu() {}, pdv() {} }, 1 << 20, 4096)
  assert.throws(() => r2.push(bad), /does not fit/)
})
