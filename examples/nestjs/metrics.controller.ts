// GET /metrics: flowgate's Prometheus metrics for the scraper, exempt from the rate limits.

import { Controller, Get, Header, Inject } from '@nestjs/common';
import { FlowgateMetrics } from 'flowgate/metrics';
import { SkipRateLimit } from 'flowgate/nestjs';
import { prometheusContentType } from 'prom-client';

@Controller('metrics')
export class MetricsController {
  constructor(@Inject(FlowgateMetrics) private readonly metrics: FlowgateMetrics) {}

  /** The registry's metrics in Prometheus text format. */
  @Get()
  @SkipRateLimit()
  @Header('Content-Type', prometheusContentType)
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
