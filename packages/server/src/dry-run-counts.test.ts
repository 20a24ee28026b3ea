import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shadowDenials } from './dry-run-counts.ts';

describe('shadowDenials', () => {
  it('sums the dry-run stages of every chain, with the stage in the name or in a label, and nothing else', () => {
    const text = [
      '# TYPE envoy_http_rbac_istio_dry_run_deny_shadow_denied counter',
      'envoy_http_rbac_istio_dry_run_deny_shadow_denied{envoy_http_conn_manager_prefix="inbound|8080||"} 3',
      'envoy_rbac_shadow_denied{envoy_rbac_prefix="istio_dry_run_deny_",envoy_network_rbac_prefix="inbound|9000||"} 1',
      'envoy_http_rbac_istio_dry_run_allow_shadow_denied{envoy_http_conn_manager_prefix="inbound|8080||"} 2',
      'envoy_http_rbac_istio_dry_run_deny_shadow_allowed{envoy_http_conn_manager_prefix="inbound|8080||"} 40',
      'envoy_http_rbac_denied{envoy_http_conn_manager_prefix="inbound|8080||"} 7',
    ].join('\n');
    assert.deepEqual(shadowDenials(text), { deny: 4, allow: 2 });
  });
});
