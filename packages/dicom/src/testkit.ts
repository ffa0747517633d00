/**
 * @module Test support: reference values from pydicom (Debian's python3-pydicom) and the sample files it ships.
 *
 * Tests fail loudly when python3-pydicom is missing instead of skipping: the comparisons are the point.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

export const PYTHON = '/usr/bin/python3'
export const PYDICOM_DATA = '/usr/lib/python3/dist-packages/pydicom/data'
export const TEST_FILES = `${PYDICOM_DATA}/test_files`
export const CHARSET_FILES = `${PYDICOM_DATA}/charset_files`

/** Runs a Python snippet with pydicom imported; `args` arrive as sys.argv[1:]. Returns stdout. */
export function python(code: string, args: string[] = []): string {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: install python3-pydicom (apt-get install python3-pydicom) to run these tests`)
  const r = spawnSync(PYTHON, ['-c', 'import warnings\nwarnings.simplefilter("ignore")\nimport sys, json, pydicom\n' + code, ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  })
  if (r.status !== 0) throw new Error(`python3-pydicom failed (is python3-pydicom installed?): ${r.stderr}`)
  return r.stdout
}

/** pydicom's DICOM JSON for each file (inline binary everywhere), keyed by path. */
export function pydicomJson(paths: string[]): Record<string, Record<string, unknown> | { error: string }> {
  const out = python(
    `res = {}
for p in sys.argv[1:]:
    try:
        res[p] = pydicom.dcmread(p, force=True).to_json_dict(bulk_data_threshold=1 << 30)
    except Exception as e:
        res[p] = {'error': repr(e)}
print(json.dumps(res))`,
    paths,
  )
  return JSON.parse(out)
}
