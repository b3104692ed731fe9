import type { ContainerFacts } from '../docker/container.js';
import { INGRESS_IMAGE_LABEL } from '../docker/labels.js';

/**
 * The image a gateway was created from: its INGRESS_IMAGE_LABEL, else (a gateway made by a version
 * before the label) the image its container was created with (`Config.Image`); undefined when neither
 * is known (nothing to compare, so never replaced on a guess).
 */
export function gatewayImage(facts: Pick<ContainerFacts, 'image' | 'labels'>): string | undefined {
  const labelled = facts.labels[INGRESS_IMAGE_LABEL];
  if (labelled !== undefined && labelled !== '') return labelled;
  return facts.image === '' ? undefined : facts.image;
}

/** True when a gateway runs another image than `image` (ingress.image) and must be replaced. */
export function gatewayImageChanged(facts: Pick<ContainerFacts, 'image' | 'labels'>, image: string): boolean {
  const running = gatewayImage(facts);
  return running !== undefined && running !== image;
}
