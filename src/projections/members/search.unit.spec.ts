import { maskName } from './search';

describe('maskName', () => {
  it('keeps only the first character of a name', () => {
    expect(['张三', '张三丰', '欧阳娜娜', '李', ''].map(maskName)).toEqual(['张*', '张**', '欧***', '*', '*']);
  });

  it('counts characters outside the Basic Multilingual Plane as one', () => {
    expect(maskName('𠮷野家')).toBe('𠮷**');
  });
});
