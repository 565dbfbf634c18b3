import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RULE_SET, evaluate, parseRuleSet, zeroFeatures, type RuleSet } from './rules.js';

const set = (rules: RuleSet['rules'], extra: Partial<RuleSet> = {}): RuleSet => ({ ...DEFAULT_RULE_SET, rules, ...extra });
const x = (over: Record<string, number>) => ({ ...zeroFeatures(), ...over });

describe('fraud rule evaluation', () => {
  it('adds the points of every match in order and applies the thresholds', () => {
    const s = set([
      { id: 'a', description: '', enabled: true, when: { feature: 'amount', op: '>=', value: 100 }, score: 30 },
      { id: 'b', description: '', enabled: true, when: { feature: 'first_purchase', op: '==', value: 1 }, score: 30 },
      { id: 'off', description: '', enabled: false, when: { feature: 'amount', op: '>', value: 0 }, score: 100, action: 'block' },
    ]);
    assert.deepEqual(evaluate(s, x({ amount: 50 })), { decision: 'allow', score: 0, reasons: [] });
    assert.deepEqual(evaluate(s, x({ amount: 150 })), { decision: 'allow', score: 30, reasons: ['a'] });
    assert.deepEqual(evaluate(s, x({ amount: 150, first_purchase: 1 })), { decision: 'review', score: 60, reasons: ['a', 'b'] });
    assert.deepEqual(evaluate({ ...s, blockAt: 60 }, x({ amount: 150, first_purchase: 1 })).decision, 'block');
  });

  it('the first matching allow or block rule ends the evaluation; review holds unless a later rule blocks', () => {
    const s = set([
      { id: 'trusted', description: '', enabled: true, when: { feature: 'customer.approved_orders', op: '>=', value: 50 }, score: 0, action: 'allow' },
      { id: 'hold', description: '', enabled: true, when: { feature: 'amount', op: '>=', value: 1000 }, score: 10, action: 'review' },
      { id: 'stop', description: '', enabled: true, when: { any: [{ feature: 'ip.declines_1h', op: '>', value: 5 }, { feature: 'email_disposable', op: '==', value: 1 }] }, score: 90, action: 'block' },
      { id: 'after', description: '', enabled: true, when: { feature: 'amount', op: '>', value: 0 }, score: 5 },
    ]);
    assert.deepEqual(evaluate(s, x({ 'customer.approved_orders': 60, email_disposable: 1 })), { decision: 'allow', score: 0, reasons: ['trusted'] });
    assert.deepEqual(evaluate(s, x({ amount: 2000 })), { decision: 'review', score: 15, reasons: ['hold', 'after'] });
    assert.deepEqual(evaluate(s, x({ amount: 2000, email_disposable: 1 })), { decision: 'block', score: 100, reasons: ['hold', 'stop'] });
  });

  it('rule sets are validated: unknown features, duplicate ids and inverted thresholds are refused', () => {
    assert.throws(() => parseRuleSet({ rules: [{ id: 'x', when: { feature: 'nope', op: '>', value: 1 }, score: 1 }] }));
    const r = { id: 'x', when: { feature: 'amount', op: '>', value: 1 }, score: 1 };
    assert.throws(() => parseRuleSet({ rules: [r, r] }), /unique/);
    assert.throws(() => parseRuleSet({ rules: [r], reviewAt: 80, blockAt: 60 }), /reviewAt/);
    const parsed = parseRuleSet({ rules: [r] });
    assert.equal(parsed.rules[0]?.enabled, true);
    assert.equal(parsed.reviewAt, 50);
    assert.deepEqual(parseRuleSet(DEFAULT_RULE_SET), DEFAULT_RULE_SET, 'the defaults are a valid rule set');
  });
});
