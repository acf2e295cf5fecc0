// Spec 001's verifier, verbatim, run on a body and header saved by the test.
import crypto from 'node:crypto'
import fs from 'node:fs'

function verify(rawBody, header, secret) {
  const expected = 'sha256=' + crypto
    .createHmac('sha256', secret)
    .update(rawBody)
    .digest('hex')
  return crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(header))
}

const [bodyPath, header, secret] = process.argv.slice(2)
const ok = verify(fs.readFileSync(bodyPath), header, secret)
process.stdout.write(ok ? 'valid' : 'invalid')
