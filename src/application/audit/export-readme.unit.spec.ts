import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CHECK_EXPORT_PY } from './export-readme';

describe('the checking script every export carries', () => {
  it('is docs/audit/check_export.py, byte for byte', () => {
    expect(CHECK_EXPORT_PY).toBe(readFileSync(path.join(__dirname, '../../../docs/audit/check_export.py'), 'utf8'));
  });
});
