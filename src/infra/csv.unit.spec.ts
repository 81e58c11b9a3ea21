import { CsvFileError, readCsvRows, type CsvRow } from './csv';

const chunksOf = (text: string, size: number): Buffer[] => {
  const bytes = Buffer.from(text, 'utf8');
  const chunks: Buffer[] = [];
  for (let start = 0; start < bytes.length; start += size) chunks.push(bytes.subarray(start, start + size));
  return chunks;
};
async function collect(input: string | Buffer[], columns: string[], limits?: { maxRecordBytes: number; maxRows: number }): Promise<CsvRow[]> {
  const rows: CsvRow[] = [];
  for await (const row of readCsvRows(typeof input === 'string' ? [Buffer.from(input, 'utf8')] : input, columns, limits)) rows.push(row);
  return rows;
}

describe('readCsvRows', () => {
  it('reads quotes, escaped quotes, line breaks in quotes, CRLF and LF, and drops the BOM', async () => {
    const text = '\ufeffName,Note\r\n"Zhang, San","said ""hi"""\r\n"Li\nSi",plain\nWang,\n\n';
    const rows = await collect(text, ['name', 'note']);
    expect(rows.map(({ line, values }) => ({ line, values }))).toEqual([
      { line: 2, values: { name: 'Zhang, San', note: 'said "hi"' } },
      { line: 3, values: { name: 'Li\nSi', note: 'plain' } },
      { line: 5, values: { name: 'Wang', note: '' } },
    ]);
  });

  it('gives the same rows whatever the chunk boundaries, including inside a multi-byte character', async () => {
    const text = '\ufeffname,note\r\n"张,三","说""好"""\r\n"李\r\n四",普通\r\n王五,末行无换行';
    const whole = await collect(text, ['name', 'note']);
    for (const size of [1, 2, 3, 5, 7]) {
      const pieces = await collect(chunksOf(text, size), ['name', 'note']);
      expect(pieces.map(({ line, values }) => ({ line, values }))).toEqual(whole.map(({ line, values }) => ({ line, values })));
    }
    expect(whole).toHaveLength(3);
    expect(whole[2]!.values).toEqual({ name: '王五', note: '末行无换行' });
  });

  it('reports malformed records per row and reads on', async () => {
    const rows = await collect('a,b\n1,2,3\nx"y,2\n"ok",2\n"q"z,2\n1\n5,6,,\n"open,2', ['a', 'b']);
    expect(rows.map((row) => [row.line, row.error?.code ?? 'ok'])).toEqual([
      [2, 'CSV.FIELD_COUNT'],
      [3, 'CSV.QUOTE_INVALID'],
      [4, 'ok'],
      [5, 'CSV.QUOTE_INVALID'],
      [6, 'CSV.FIELD_COUNT'],
      [7, 'ok'], // Empty trailing cells, as spreadsheets write them, are fine.
      [8, 'CSV.UNTERMINATED_QUOTE'],
    ]);
  });

  it.each([
    ['an empty file', '', 'CSV.HEADER_INVALID'],
    ['a missing column', 'a,c\n1,2\n', 'CSV.HEADER_INVALID'],
    ['a repeated column', 'a,b,a\n1,2,3\n', 'CSV.HEADER_INVALID'],
  ])('refuses %s as a whole', async (_label, text, code) => {
    await expect(collect(text, ['a', 'b'])).rejects.toMatchObject({ code });
  });

  it('refuses a file that is not UTF-8 (Excel GBK) with a hint', async () => {
    const gbk = Buffer.concat([Buffer.from('a,b\n'), Buffer.from([0xd5, 0xc5, 0xc8, 0xfd]), Buffer.from(',1\n')]);
    const error = await collect([gbk], ['a', 'b']).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CsvFileError);
    expect(error).toMatchObject({ code: 'CSV.ENCODING', line: 2 });
    expect((error as Error).message).toContain('CSV UTF-8');
  });

  it('enforces the record size and row count limits', async () => {
    const limits = { maxRecordBytes: 32, maxRows: 2 };
    await expect(collect(`a,b\n${'x'.repeat(40)},1\n`, ['a', 'b'], limits)).rejects.toMatchObject({ code: 'CSV.LINE_TOO_LONG', line: 2 });
    // An unclosed quote swallows the following lines until the limit stops it.
    await expect(collect(chunksOf(`a,b\n"x,1\n${'y,2\n'.repeat(20)}`, 8), ['a', 'b'], limits)).rejects.toMatchObject({ code: 'CSV.LINE_TOO_LONG' });
    await expect(collect('a,b\n1,2\n3,4\n5,6\n', ['a', 'b'], limits)).rejects.toMatchObject({ code: 'CSV.TOO_MANY_ROWS', line: 4 });
  });
});
