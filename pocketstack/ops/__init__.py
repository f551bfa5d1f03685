"""Operations: ``pocketstack doctor`` and the operator commands of ``pocketstack manage``."""
